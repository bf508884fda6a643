"""HTML pages a person uses: the sign-up form and the activation result, in en and zh-CN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Create your account",
        "email": "Email",
        "password": "Password (8 to 128 characters)",
        "submit": "Sign up",
        "other_language": "中文",
        "accepted_title": "Check your inbox",
        "accepted_body": "If the address can receive mail, an activation link is on its way.",
        "activated_title": "Account activated",
        "activated_body": "Welcome! The account {email} is active.",
        "error_invalid": "This activation link is not valid.",
        "error_used": "This activation link was already used. Your account is active.",
        "error_expired": "This activation link has expired. Sign up again to get a new one.",
        "error_title": "Activation failed",
        "error_form": "Please correct the form",
        "error_rate": "Too many attempts. Please wait a moment and try again.",
        "error_unavailable": "The service is briefly unavailable. Please try again.",
        "back": "Back to sign-up",
    },
    "zh-CN": {
        "title": "创建账户",
        "email": "邮箱",
        "password": "密码（8 到 128 个字符）",
        "submit": "注册",
        "other_language": "English",
        "accepted_title": "请查收邮件",
        "accepted_body": "如果该地址可以接收邮件，激活链接正在发送中。",
        "activated_title": "账户已激活",
        "activated_body": "欢迎！账户 {email} 已激活。",
        "error_invalid": "此激活链接无效。",
        "error_used": "此激活链接已被使用，您的账户已激活。",
        "error_expired": "此激活链接已过期，请重新注册以获取新链接。",
        "error_title": "激活失败",
        "error_form": "请修正表单中的错误",
        "error_rate": "尝试次数过多，请稍后再试。",
        "error_unavailable": "服务暂时不可用，请稍后再试。",
        "back": "返回注册",
    },
}


def page_language(request: Request, explicit: str | None = None) -> str:
    """?lang= (or a form field) first, then Accept-Language, then English."""
    wanted = explicit or request.query_params.get("lang")
    if wanted in TEXT:
        return wanted
    accept = request.headers.get("accept-language", "").lower()
    return "zh-CN" if accept.startswith("zh") else "en"


def render_page(
    request: Request, name: str, lang: str, status: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"lang": lang, "t": TEXT[lang], **context}, status_code=status
    )
