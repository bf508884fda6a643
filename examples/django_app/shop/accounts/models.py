"""The shop's own users: regmail only delivers their mail."""

from django.db import models


class User(models.Model):
    email = models.EmailField(unique=True)
    password = models.CharField(max_length=255)  # Django's own hash (make_password)
    is_active = models.BooleanField(default=False)
    # SHA-256 of the activation link's token: the token itself is only in the mail.
    activation_digest = models.CharField(max_length=64, unique=True, null=True)
    created_at = models.DateTimeField(auto_now_add=True)
