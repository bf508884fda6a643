"""A FastAPI + SQLAlchemy (asyncio) application with its own users table: sign-up adds the
user and queues its welcome mail in one transaction (`regmail.mailer`), and `regmail
worker` delivers the mail from the same database. See README.md."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException
from jinja2 import FileSystemLoader
from pydantic import BaseModel, ConfigDict, EmailStr
from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from regmail.mailer import InvalidMail, Kind, Mailer


class Welcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


# The application's own kind of mail; the worker: --kinds examples.fastapi_sqlalchemy.app:KINDS
KINDS = [
    Kind(
        "welcome", FileSystemLoader(Path(__file__).with_name("templates")), Welcome, locales=("en",)
    )
]


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class SignUp(BaseModel):
    email: EmailStr
    name: str


engine = create_async_engine(os.environ.get("APP_DATABASE_URL", "sqlite+aiosqlite:///app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
mailer = Mailer(kinds=KINDS)  # REGMAIL_* from the environment: the secret key


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)  # a real application: its migrations
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.post("/signup", status_code=201)
async def signup(body: SignUp) -> dict[str, int]:
    session: AsyncSession
    async with sessions() as session, session.begin():  # commits both, or neither
        user = User(email=body.email, name=body.name)
        session.add(user)
        try:
            await session.flush()  # the user's row first: a taken address stops here
            await mailer.queue_async(session, "welcome", body.email, {"name": body.name})
        except IntegrityError:
            raise HTTPException(409, "this address has an account") from None
        except InvalidMail as error:
            raise HTTPException(422, f"{error.field}: {error.message}") from None
    return {"id": user.id}


@app.get("/users/{user_id}")
async def get_user(user_id: int) -> dict[str, str]:
    async with sessions() as session:
        user = await session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise HTTPException(404, "no such user")
    return {"email": user.email, "name": user.name}
