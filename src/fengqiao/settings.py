"""Typed settings, built once at start-up from the environment (``FENGQIAO_*``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_SECRET = "fengqiao-demo-secret-change-me"


class SettingsError(Exception):
    """A setting is missing or unsafe."""


def _env(name: str, default: str | None = None) -> str | None:
    """Read FENGQIAO_<name>, or the file named by FENGQIAO_<name>_FILE (for secrets)."""
    key = f"FENGQIAO_{name}"
    file_key = f"{key}_FILE"
    if os.environ.get(file_key):
        return Path(os.environ[file_key]).read_text(encoding="utf-8").strip()
    return os.environ.get(key, default)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    database_url: str = ""
    secret_key: str = DEFAULT_SECRET
    demo: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    # Attachments: refuse anything larger or of another type.
    max_attachment_bytes: int = 20 * 1024 * 1024
    allowed_attachment_types: tuple[str, ...] = (
        "image/jpeg", "image/png", "image/webp", "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    token_hours: int = 12
    worker_interval_seconds: float = 30.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'fengqiao.db').resolve()}"

    @property
    def attachment_dir(self) -> Path:
        return self.data_dir / "attachments"

    def with_overrides(self, **kwargs: object) -> "Settings":
        return replace(self, **kwargs)  # type: ignore[arg-type]

    def check(self) -> None:
        """Refuse the known default secret outside demo mode."""
        if not self.demo and self.secret_key == DEFAULT_SECRET:
            raise SettingsError(
                "FENGQIAO_SECRET_KEY is the published default; set your own secret "
                "(or FENGQIAO_SECRET_KEY_FILE) before running outside demo mode"
            )


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; keyword overrides win (used by the CLI)."""
    values: dict[str, object] = {}
    if (v := _env("DATA_DIR")) is not None:
        values["data_dir"] = Path(v)
    if (v := _env("DATABASE_URL")) is not None:
        values["database_url"] = v
    if (v := _env("SECRET_KEY")) is not None:
        values["secret_key"] = v
    if (v := _env("DEMO")) is not None:
        values["demo"] = v.lower() in {"1", "true", "yes"}
    if (v := _env("WORKER_INTERVAL")) is not None:
        values["worker_interval_seconds"] = float(v)
    if (v := _env("MAX_ATTACHMENT_BYTES")) is not None:
        values["max_attachment_bytes"] = int(v)
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"])  # type: ignore[arg-type]
    return Settings(**values)  # type: ignore[arg-type]
