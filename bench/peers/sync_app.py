"""The naive design regmail replaces: the same sign-up endpoint, sending the mail inline.

FastAPI, argon2id with the same parameters, the account written to SQLite, then the
activation mail sent with smtplib before the response, as the report that started regmail
described. Run: uvicorn bench.peers.sync_app:app (SYNC_APP_DB, SYNC_APP_SMTP_PORT).
"""

from __future__ import annotations

import os
import secrets
import smtplib
import sqlite3
import threading
from email.message import EmailMessage

from argon2 import PasswordHasher, Type
from fastapi import FastAPI
from pydantic import BaseModel, EmailStr

DB = os.environ.get("SYNC_APP_DB", "sync_app.db")
SMTP_PORT = int(os.environ.get("SYNC_APP_SMTP_PORT", "25"))
hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)
local = threading.local()
app = FastAPI()


class Registration(BaseModel):
    email: EmailStr
    password: str


def connection() -> sqlite3.Connection:
    if not hasattr(local, "db"):
        local.db = sqlite3.connect(DB, timeout=30)
        local.db.execute("PRAGMA journal_mode=WAL")
        local.db.execute(
            "CREATE TABLE IF NOT EXISTS accounts (email TEXT PRIMARY KEY, hash TEXT, token TEXT)"
        )
    return local.db


@app.post("/v1/registrations", status_code=202)
def register(body: Registration) -> dict[str, str]:  # sync: FastAPI runs it in its threadpool
    token = secrets.token_urlsafe(32)
    db = connection()
    with db:
        db.execute(
            "INSERT OR IGNORE INTO accounts VALUES (?, ?, ?)",
            (body.email, hasher.hash(body.password), token),
        )
    message = EmailMessage()
    message["From"] = "no-reply@regmail.localhost"
    message["To"] = body.email
    message["Subject"] = "Activate your account"
    message.set_content(f"http://127.0.0.1/activate?token={token}")
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=30) as smtp:
        smtp.send_message(message)
    return {"status": "accepted"}
