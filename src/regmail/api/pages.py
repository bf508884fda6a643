"""The HTML pages a person uses (sign-up, activation, password reset, address change), in
en and zh-CN. Every page that ends a step says what happens next: "Continue" to
REGMAIL_APP_URL when it is set, or a 303 straight to the application's own page for that
step (REGMAIL_APP_*_PATH)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from regmail.accounts.links import Links
from regmail.accounts.tokens import Purpose
from regmail.api.csrf import form_token, remember
from regmail.api.messages import language

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Create your account",
        "email": "Email",
        "password": "Password",
        "password_hint": "At least {min} characters; not a common password.",
        "submit": "Sign up",
        "other_language": "中文",
        "accepted_title": "Check your inbox",
        "accepted_body": "If the address can receive mail, a link to activate the account is "
        "on its way. Open it and enter the password you just chose.",
        "forgot_link": "Forgot your password?",
        "activate_title": "Activate your account",
        "activate_intro": "Enter the password you chose when you signed up with {email}.",
        "activate_submit": "Activate",
        "activated_title": "Account activated",
        "activated_body": "Welcome! The account {email} is active.",
        "already_active_title": "Your account is active",
        "already_active_body": "The account {email} is active: this link has done its job.",
        "invalid_title": "This link does not work",
        "invalid_body": "It is not a link we sent, or it was cut short: copy the whole link "
        "from the mail.",
        "used_title": "This link was used",
        "used_body": "Each link works once. Ask for a new one if you still need it.",
        "expired_title": "This link has expired",
        "expired_body": "Links work for a limited time. Ask for a new one.",
        "expired_activation_body": "Get a new activation link for {email}:",
        "resend_submit": "Send a new link",
        "resent_title": "Check your inbox",
        "resent_body": "If an account is waiting to be activated at that address, a new link "
        "is on its way.",
        "forgot_title": "Reset your password",
        "forgot_intro": "Enter the address of your account: we send it a link to choose a new "
        "password.",
        "forgot_submit": "Send the link",
        "forgot_accepted_title": "Check your inbox",
        "forgot_accepted_body": "If the address has an account, a link to choose a new password "
        "is on its way. It works for one hour.",
        "ask_again": "Ask for a new link",
        "reset_title": "Choose a new password",
        "reset_intro": "For the account {email}.",
        "new_password": "New password",
        "reset_submit": "Set the password",
        "reset_done_title": "Password changed",
        "reset_done_body": "The account {email} has its new password.",
        "reset_activated_body": "The account {email} is active, with the password you just set.",
        "confirm_title": "Confirm your new address",
        "confirm_intro": "Sign in with {email} from now on?",
        "confirm_submit": "Confirm",
        "confirm_done_title": "Address changed",
        "confirm_done_body": "You sign in with {email} from now on.",
        "taken_title": "Address not changed",
        "taken_body": "The address {email} has an account by now, so the change was not made.",
        "continue": "Continue",
        "close": "You can close this page.",
        "error_form": "Please correct the form",
        "error_rate": "Too many attempts. Please wait a moment and try again.",
        "error_unavailable": "The service is briefly unavailable. Please try again.",
        "back": "Back to sign-up",
        "csrf_title": "This form has expired",
        "csrf_body": "Go back, reload the page and send the form again.",
    },
    "zh-CN": {
        "title": "创建账户",
        "email": "邮箱",
        "password": "密码",
        "password_hint": "至少 {min} 个字符，不能是常见密码。",
        "submit": "注册",
        "other_language": "English",
        "accepted_title": "请查收邮件",
        "accepted_body": "如果该地址可以接收邮件，激活链接正在发送中。"
        "打开链接后，请输入您刚刚设置的密码。",
        "forgot_link": "忘记密码？",
        "activate_title": "激活账户",
        "activate_intro": "请输入使用 {email} 注册时设置的密码。",
        "activate_submit": "激活",
        "activated_title": "账户已激活",
        "activated_body": "欢迎！账户 {email} 已激活。",
        "already_active_title": "您的账户已激活",
        "already_active_body": "账户 {email} 已激活，此链接已完成它的作用。",
        "invalid_title": "此链接无效",
        "invalid_body": "这不是我们发送的链接，或者链接不完整：请从邮件中复制完整的链接。",
        "used_title": "此链接已被使用",
        "used_body": "每个链接只能使用一次。如仍需要，请重新获取。",
        "expired_title": "此链接已过期",
        "expired_body": "链接有时效限制，请重新获取。",
        "expired_activation_body": "为 {email} 获取新的激活链接：",
        "resend_submit": "发送新链接",
        "resent_title": "请查收邮件",
        "resent_body": "如果该地址有等待激活的账户，新的链接正在发送中。",
        "forgot_title": "重置密码",
        "forgot_intro": "请输入您账户的邮箱地址，我们会发送一个设置新密码的链接。",
        "forgot_submit": "发送链接",
        "forgot_accepted_title": "请查收邮件",
        "forgot_accepted_body": "如果该地址有账户，设置新密码的链接正在发送中，一小时内有效。",
        "ask_again": "重新获取链接",
        "reset_title": "设置新密码",
        "reset_intro": "账户：{email}。",
        "new_password": "新密码",
        "reset_submit": "设置密码",
        "reset_done_title": "密码已更改",
        "reset_done_body": "账户 {email} 已使用新密码。",
        "reset_activated_body": "账户 {email} 已激活，密码为您刚刚设置的密码。",
        "confirm_title": "确认新邮箱",
        "confirm_intro": "今后使用 {email} 登录吗？",
        "confirm_submit": "确认",
        "confirm_done_title": "邮箱已更改",
        "confirm_done_body": "今后请使用 {email} 登录。",
        "taken_title": "邮箱未更改",
        "taken_body": "{email} 现已有账户，因此没有更改。",
        "continue": "继续",
        "close": "您可以关闭此页面。",
        "error_form": "请修正表单中的错误",
        "error_rate": "尝试次数过多，请稍后再试。",
        "error_unavailable": "服务暂时不可用，请稍后再试。",
        "back": "返回注册",
        "csrf_title": "此表单已过期",
        "csrf_body": "请返回并刷新页面，然后重新提交表单。",
    },
}


def page_language(request: Request, explicit: str | None = None) -> str:
    """A form's `locale` (or ?lang=) first, then Accept-Language, then English."""
    return language(request, explicit)


def render_page(
    request: Request, name: str, lang: str, status: int = 200, **context: Any
) -> HTMLResponse:
    settings = request.app.state.runtime.settings
    token = form_token(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": TEXT[lang],
            "app_url": settings.app_url,
            "min_length": settings.password_min_length,
            "csrf_token": token,
            **context,
        },
        status_code=status,
    )
    remember(request, response, token)
    return response


def to_app(request: Request, path: str | None, **query: str) -> RedirectResponse | None:
    """A 303 to the application's page `path` (under REGMAIL_APP_URL), if it has one."""
    app_url = request.app.state.runtime.settings.app_url
    if app_url is None or path is None:
        return None
    url = app_url.rstrip("/") + path
    if query:
        url += ("&" if "?" in path else "?") + urlencode(query)
    return RedirectResponse(url, status_code=303)


def step_done(
    request: Request, path: str | None, template: str, lang: str, **context: Any
) -> Response:
    """The end of a step: the application's page for it, else ours saying it is done."""
    return to_app(request, path) or render_page(request, template, lang, state="done", **context)


def link_redirect(request: Request, purpose: Purpose, state: str) -> RedirectResponse | None:
    """Where the application wants a link in `state` to send the person, if anywhere: an
    activation link of an active account to its page after activation, a link that no
    longer works to its page for that."""
    settings = request.app.state.runtime.settings
    if state == "active":
        return to_app(request, settings.app_activated_path)
    if state in ("invalid", "used", "expired"):
        return to_app(request, settings.app_link_failed_path, step=purpose, reason=state)
    return None


# The HTTP status of a link's page, by the state of its token.
LINK_STATUS = {"live": 200, "active": 200, "invalid": 400}


async def link_page(
    request: Request,
    links: Links,
    purpose: Purpose,
    template: str,
    token: str,
    lang: str,
    error: str | None = None,
) -> Response:
    """The page behind a mailed link, as its token stands: the form while it is live (with
    `error` after a refused attempt), else why it no longer works (or the application's
    page for that, REGMAIL_APP_LINK_FAILED_PATH). Reads, never writes."""
    link = await links.state(token, purpose)
    redirect = link_redirect(request, purpose, link.state)
    if redirect is not None:
        return redirect
    status = 400 if error else LINK_STATUS.get(link.state, 410)
    return render_page(
        request,
        template,
        lang,
        status,
        state=link.state,
        email=link.email,
        token=token,
        error=error,
    )


async def form_expired(request: Request, _: Exception) -> Response:
    """A form POST without its CSRF token (api/csrf.py): a page saying what to do."""
    lang = page_language(request)
    t = TEXT[lang]
    return render_page(
        request, "notice.html", lang, 403, title=t["csrf_title"], body=t["csrf_body"]
    )
