"""Who may see and act on a case: region subtree, and a department handler's own department."""

from __future__ import annotations

from sqlalchemy import Select, true

from fengqiao.auth.models import Role
from fengqiao.auth.service import Principal
from fengqiao.cases.models import Case
from fengqiao.errors import Forbidden, NotFound


def scope_filter(principal: Principal):  # type: ignore[no-untyped-def]
    """A WHERE clause limiting cases to what this user may see."""
    if principal.role is Role.HANDLER:
        return Case.department_id == principal.department_id
    if principal.scope_all:
        # The root of the tree: every case is in scope, and a prefix match on every row would only cost time.
        return true()
    return Case.region_path.startswith(principal.region_path, autoescape=True)


def scoped(query: Select, principal: Principal) -> Select:  # type: ignore[type-arg]
    return query.where(scope_filter(principal))


def can_see(principal: Principal, case: Case) -> bool:
    if principal.role is Role.HANDLER:
        return case.department_id is not None and case.department_id == principal.department_id
    return case.region_path.startswith(principal.region_path)


def check_visible(principal: Principal, case: Case | None, case_ref: object) -> Case:
    """Return the case or refuse; a case outside the scope looks the same as a missing one."""
    if case is None or not can_see(principal, case):
        raise NotFound(f"事项 {case_ref} 不存在或不在您的管辖范围内", "case_id")
    return case


def check_region(principal: Principal, region_path: str) -> None:
    if not region_path.startswith(principal.region_path):
        raise Forbidden("该区划不在您的管辖范围内", "region_id")


