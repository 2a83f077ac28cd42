"""Create users and check their passwords."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from app.audit import service as audit
from app.core.errors import Conflict, InvalidInput
from app.core.security import MIN_PASSWORD_LENGTH, hash_password
from app.users.models import Role, User

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput(f"not an email address: {email!r}")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise InvalidInput("password must be at most 1024 characters")


def get_by_email(*, session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def create_user(
    *,
    session: Session,
    email: str,
    password: str,
    role: Role | str = Role.REPORTER,
    name: str = "",
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> User:
    """Create a user with an Argon2 password hash; the creation is audited."""
    email = normalise_email(email)
    try:
        role = Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(Role)}") from None
    check_password(password)
    if get_by_email(session=session, email=email) is not None:
        raise Conflict(f"a user with email {email} already exists")
    user = User(email=email, name=name.strip()[:200], password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        action="user.create",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="user",
        target_id=user.id,
        detail={"role": str(role)},
    )
    return user
