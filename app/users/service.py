"""Create users and check their passwords."""

from __future__ import annotations

import re

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.core.errors import Conflict, InvalidInput
from app.core.security import MIN_PASSWORD_LENGTH, hash_password
from app.reporters.models import Reporter
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


def list_users(*, session: Session, offset: int = 0, limit: int = 50) -> tuple[list[User], int]:
    """Users by id, one page, and the total."""
    total = session.exec(select(func.count()).select_from(User)).one()
    rows = session.exec(select(User).order_by(col(User.id)).offset(offset).limit(limit)).all()
    return list(rows), int(total)


def update_user(
    *,
    session: Session,
    user: User,
    role: Role | str | None = None,
    is_active: bool | None = None,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> User:
    """Change a user's role or active flag (audited with before/after); nobody changes their own."""
    if actor_id is not None and actor_id == user.id:
        raise Conflict("you cannot change your own role or deactivate yourself; ask another admin")
    before = {"role": str(user.role), "is_active": user.is_active}
    if role is not None:
        try:
            user.role = Role(role)
        except ValueError:
            raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(Role)}") from None
    if is_active is not None:
        user.is_active = is_active
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        action="user.update",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="user",
        target_id=user.id,
        detail={"before": before, "after": {"role": str(user.role), "is_active": user.is_active}},
    )
    return user


def reporter_ids(*, session: Session, user_ids: list[int]) -> dict[int, int]:
    """``user id → reporter id`` for those users who have a (not deleted) reporter profile."""
    if not user_ids:
        return {}
    rows = session.exec(
        select(Reporter.user_id, Reporter.id).where(
            col(Reporter.user_id).in_(user_ids), col(Reporter.deleted_at).is_(None)
        )
    ).all()
    return {int(user_id): int(reporter_id) for user_id, reporter_id in rows if user_id and reporter_id}
