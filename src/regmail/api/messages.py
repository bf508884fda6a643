"""What a field error says, in the request's language (en, zh-CN): problem bodies and pages.

A request's language is its body's `locale` when it has one, else `?lang=`, else its
Accept-Language, else English. Errors regmail raises carry a code (`password.common`);
pydantic's own are known by their type; anything else keeps its English message.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from regmail.accounts.passwords import PasswordRefused

LANGUAGES = ("en", "zh-CN")

_MESSAGES: dict[str, dict[str, str]] = {
    "password.too_short": {
        "en": "must be at least {limit} characters",
        "zh-CN": "至少需要 {limit} 个字符",
    },
    "password.too_long": {
        "en": "must be at most {limit} characters",
        "zh-CN": "最多 {limit} 个字符",
    },
    "password.common": {
        "en": "is one of the most common passwords; choose another",
        "zh-CN": "是最常见的密码之一，请换一个",
    },
    "password.is_address": {
        "en": "must not be the email address",
        "zh-CN": "不能与邮箱地址相同",
    },
    "password.wrong": {
        "en": "is not the password chosen when signing up with this address",
        "zh-CN": "与使用此邮箱注册时设置的密码不一致",
    },
    "email_invalid": {"en": "{detail}", "zh-CN": "不是有效的邮箱地址（{detail}）"},
    "missing": {"en": "Field required", "zh-CN": "必填"},
    "string_too_short": {"en": "{detail}", "zh-CN": "太短"},
    "string_too_long": {"en": "{detail}", "zh-CN": "太长"},
    "string_type": {"en": "{detail}", "zh-CN": "必须是文本"},
    "literal_error": {"en": "{detail}", "zh-CN": "取值无效"},
    "extra_forbidden": {"en": "{detail}", "zh-CN": "不允许的字段"},
}


def language(request: Request, explicit: Any = None) -> str:
    """The body's (or form's) locale, ?lang=, Accept-Language, then English."""
    for wanted in (explicit, request.query_params.get("lang")):
        if wanted in LANGUAGES:
            return str(wanted)
    accept = request.headers.get("accept-language", "").lower()
    return "zh-CN" if accept.startswith("zh") else "en"


def localized(code: str, lang: str, detail: str = "", **params: Any) -> str:
    """The message for `code` in `lang`; `detail` (the English one) when there is none."""
    texts = _MESSAGES.get(code)
    if texts is None:
        return detail
    return texts.get(lang, texts["en"]).format(detail=detail, **params)


def refusal(refused: PasswordRefused, lang: str) -> str:
    """Why a new password is refused, in `lang`."""
    return localized(f"password.{refused.code}", lang, refused.code, limit=refused.limit)
