"""Sign-up creates the user and queues its welcome mail in ONE transaction; the mailed link
activates it (a GET shows a button, the POST changes state)."""

import hashlib
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from regmail.mailer import InvalidMail, Mailer
from shop.accounts.models import User

mailer = Mailer()  # REGMAIL_* from the environment: the secret key, the kinds


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def signup(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "accounts/signup.html")
    email, password = request.POST.get("email", ""), request.POST.get("password", "")
    token = secrets.token_urlsafe(32)
    link = f"{settings.SITE_URL}/activate?{urlencode({'token': token})}"
    try:
        with transaction.atomic():  # the user and its mail: both or neither
            User.objects.create(
                email=email, password=make_password(password), activation_digest=_digest(token)
            )
            mailer.queue(connection, "shop_welcome", email, {"link": link})
    except InvalidMail as error:
        return render(request, "accounts/signup.html", {"error": error.message}, status=422)
    except IntegrityError:
        pass  # the address has an account: the same answer, so nobody learns which
    return render(request, "accounts/done.html", {"message": "Check your inbox."}, status=202)


def activate(request: HttpRequest) -> HttpResponse:
    token = request.GET.get("token") or request.POST.get("token", "")
    if request.method != "POST":
        return render(request, "accounts/activate.html", {"token": token})
    activated = User.objects.filter(activation_digest=_digest(token), is_active=False).update(
        is_active=True, activation_digest=None
    )
    message = "Your account is active." if activated else "This link does not work."
    return render(
        request, "accounts/done.html", {"message": message}, status=200 if activated else 400
    )
