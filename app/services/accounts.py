"""Users, passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from app.extensions import DbSession
from app.models import ApiToken, Role, User, utcnow

_hasher = PasswordHasher()
TOKEN_PREFIX = "alm_"  # noqa: S105 (a label, not a secret)
MIN_PASSWORD_LENGTH = 8
# Refreshing last_used_at on every request would turn each read into a write.
_LAST_USED_RESOLUTION = timedelta(seconds=60)
# Verify against this when the e-mail is unknown, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A user or token request that cannot be honoured; the message says why."""


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """True when the password matches the user's hash (constant work if no user)."""
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and (
            user is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def normalize_email(email: str) -> str:
    """Lower-case and strip an e-mail address; refuse obvious garbage."""
    value = email.strip().lower()
    local, _, domain = value.partition("@")
    if not local or "." not in domain or len(value) > 254 or any(c.isspace() for c in value):
        raise AccountError(f"not a valid e-mail address: {email!r}")
    return value


def create_user(
    session: DbSession, email: str, password: str, role: str, display_name: str | None = None
) -> User:
    """Create a user with a hashed password; the e-mail must be new."""
    address = normalize_email(email)
    if role not in {r.value for r in Role}:
        raise AccountError(f"role must be one of admin, editor, viewer (got {role!r})")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if find_user(session, address) is not None:
        raise AccountError(f"a user with e-mail {address} already exists")
    user = User(
        email=address, password_hash=hash_password(password), role=role, display_name=display_name
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: DbSession, email: str) -> User | None:
    """The user with this e-mail, if any."""
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def authenticate(session: DbSession, email: str, password: str) -> User | None:
    """The active user these credentials belong to, else None."""
    user = find_user(session, email)
    if not verify_password(user, password) or user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def _digest(token: str) -> str:
    """Tokens are random and long, so a fast hash is enough (unlike passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: DbSession, user: User, name: str) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the token, which is never stored."""
    label = name.strip()
    if not label or len(label) > 100:
        raise AccountError("token name must have 1 to 100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=label, token_hash=_digest(token), prefix=token[:10])
    session.add(row)
    session.flush()
    return row, token


def user_for_token(session: DbSession, token: str, now: datetime | None = None) -> User | None:
    """The active user owning this unrevoked token, recording when it was used."""
    row: ApiToken | None = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _digest(token))
    )
    if row is None or row.is_revoked or not row.user.is_active:
        return None
    moment = now or utcnow()
    if row.last_used_at is None or moment - row.last_used_at > _LAST_USED_RESOLUTION:
        row.last_used_at = moment
    return row.user


def revoke_token(session: DbSession, token_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Revoke a token; False when there is no such token."""
    row = session.get(ApiToken, token_id)
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
    return True
