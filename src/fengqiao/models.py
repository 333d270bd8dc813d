"""Import every model so the metadata is complete (Alembic, tests)."""

from fengqiao.auth.models import AuthToken, User  # noqa: F401
from fengqiao.cases.models import (  # noqa: F401
    Attachment, Case, CaseCounter, CaseEvent, CaseLink, Outbox, Party, ReturnVisit, RoutingDecision,
)
from fengqiao.catalog.models import CatalogItem, CatalogVersion  # noqa: F401
from fengqiao.db import Base  # noqa: F401
from fengqiao.deadlines.models import CaseDeadline, DeadlinePolicy  # noqa: F401
from fengqiao.intake.models import (  # noqa: F401
    IntakeDelivery, IntakeDevice, IntakeOutbound, IntakePhoto, IntakePlace, IntakeRejection, IntakeReport, IntakeSource,
    LedgerEntry, LedgerImport, LedgerParty, RateCounter,
)
from fengqiao.options.models import AppOption  # noqa: F401
from fengqiao.org.models import Department, Region  # noqa: F401
from fengqiao.supervision.models import SupervisionAction  # noqa: F401
from fengqiao.workcal.models import CalendarDay, CalendarYear  # noqa: F401
