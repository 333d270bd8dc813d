"""Masking of personal identifiers for roles that do not need them (pure; used by every layer)."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) >= 7:
        return digits[:3] + "****" + digits[-4:]
    return "*" * len(digits)


def mask_id_number(id_number: str | None) -> str | None:
    if not id_number:
        return id_number
    value = id_number.strip()
    if len(value) >= 10:
        return value[:6] + "*" * (len(value) - 10) + value[-4:]
    return "*" * len(value)
