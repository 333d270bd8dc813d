"""Checks of personal identifiers: Chinese phone numbers and resident ID numbers (GB 11643)."""

from __future__ import annotations

import re

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_phone(value: str) -> str:
    phone = value.strip().replace(" ", "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if not (_MOBILE.match(phone) or _LANDLINE.match(phone)):
        raise ValueError(f"电话号码“{value}”格式不对：应为 11 位手机号或带区号的固话")
    return phone


def check_id_number(value: str) -> str:
    """An 18-character resident ID with a valid birth date and check digit."""
    number = value.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise ValueError("身份证号应为 18 位（最后一位可为 X）")
    try:
        from datetime import date

        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError("身份证号中的出生日期无效") from None
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS))
    if _CHECK[total % 11] != number[17]:
        raise ValueError("身份证号校验位不对，请核对")
    return number


def make_id_number(prefix17: str) -> str:
    """Complete 17 digits with their check digit (demo data and tests)."""
    total = sum(int(d) * w for d, w in zip(prefix17, _WEIGHTS))
    return prefix17 + _CHECK[total % 11]
