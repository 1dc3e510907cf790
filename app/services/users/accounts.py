"""Users, passwords and API tokens: signing in, and managing accounts.

Management functions take ``by``, the user asking: admins manage every
account, anyone their own tokens (``access``). ``by=None`` is the operator at
the command line, who holds the database anyway. Each one validates, checks,
writes and commits.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.extensions import DbSession
from app.i18n import _
from app.models import ApiToken, Role, User, utcnow
from app.services import access, audit_trail
from app.services.errors import Conflict, Invalid, NotFound

_hasher = PasswordHasher()
TOKEN_PREFIX = "alm_"  # noqa: S105 (a label, not a secret)
MIN_PASSWORD_LENGTH = 8
# Refreshing last_used_at on every request would turn each read into a write.
_LAST_USED_RESOLUTION = timedelta(seconds=60)
# Verify against this when the e-mail is unknown, so timing does not reveal it: the
# hash of a random password nobody kept, made with the hasher's own parameters (a test
# holds them equal). A constant, not hashed at import: that cost every process ~0.5 s of
# CPU at start (web, scheduler, each worker), and verifying takes the same time either way.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$LDYkTLnHQpJALNQCc/Z4TA$"
    "VcZhHsgOWMQDWd2BlYasgstBvaz0hbwiHi5r0+abmNg"
)


class AccountError(Invalid):
    """A user or token request that cannot be honoured; the message says why."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, {field: message} if field else None)


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
    local, _at, domain = value.partition("@")
    if not local or "." not in domain or len(value) > 254 or any(c.isspace() for c in value):
        raise AccountError(_("not a valid e-mail address: {email!r}").format(email=email), "email")
    return value


def create_user(
    session: DbSession,
    email: str,
    password: str,
    role: str,
    display_name: str | None = None,
    *,
    by: User | None = None,
) -> User:
    """Create a user with a hashed password (the e-mail must be new) and commit."""
    if by is not None:
        access.require_admin(by, _("Only admins may add users."))
    address = normalize_email(email)
    _check_role(role)
    _check_password(password)
    if find_user(session, address) is not None:
        raise AccountError(
            _("a user with e-mail {address} already exists").format(address=address), "email"
        )
    user = User(
        id=uuid.uuid4(),
        email=address,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name,
    )
    session.add(user)
    shown = {"email": address, "role": role, "display_name": display_name}
    audit_trail.record(session, by, audit_trail.USER, user.id, "created", shown)
    session.commit()
    return user


def _check_role(role: str) -> None:
    if role not in {r.value for r in Role}:
        message = _("role must be one of admin, editor, viewer (got {role!r})")
        raise AccountError(message.format(role=role), "role")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        message = _("password must have at least {count} characters")
        raise AccountError(message.format(count=MIN_PASSWORD_LENGTH), "password")


def get_user(session: DbSession, by: User | None, user_id: uuid.UUID) -> User:
    """A user ``by`` may manage (themselves, or anyone for admins), else NotFound."""
    user = session.get(User, user_id)
    if user is None or (by is not None and not access.can_manage_account(by, user_id)):
        raise NotFound(_("No such user."))
    return user


def change_role(session: DbSession, by: User | None, user_id: uuid.UUID, role: str) -> User:
    """Give a user another role (admins only; the last admin stays one); commit."""
    if by is not None:
        access.require_admin(by, _("Only admins may change roles."))
    user = get_user(session, by, user_id)
    _check_role(role)
    if user.is_admin and role != Role.ADMIN:
        _keep_an_admin(session, user)
    if user.role != role:
        end_sessions(user)
        change = {"role": {"from": user.role, "to": role}}
        audit_trail.record(session, by, audit_trail.USER, user.id, "role_changed", change)
    user.role = role
    session.commit()
    return user


def set_active(session: DbSession, by: User | None, user_id: uuid.UUID, active: bool) -> User:
    """Disable (sign-in and tokens refused) or enable a user (admins only); commit."""
    if by is not None:
        access.require_admin(by, _("Only admins may disable or enable users."))
    user = get_user(session, by, user_id)
    if not active and user.is_admin:
        _keep_an_admin(session, user)
    if not active:
        end_sessions(user)
        _revoke_all_tokens(session, by, user, utcnow())
    if user.is_active_user != active:
        action = "enable" if active else "disable"
        audit_trail.record(session, by, audit_trail.USER, user.id, action)
    user.is_active_user = active
    session.commit()
    return user


def reset_password(session: DbSession, by: User | None, user_id: uuid.UUID, password: str) -> User:
    """Set a new password (admins for anyone, a user for themselves); commit."""
    user = get_user(session, by, user_id)
    _check_password(password)
    user.password_hash = hash_password(password)
    end_sessions(user)
    # The event says it happened; never what the password is.
    audit_trail.record(session, by, audit_trail.USER, user.id, "password_reset")
    session.commit()
    return user


def change_password(session: DbSession, user: User, current: str, new: str) -> User:
    """A user's own new password, after the current one; ends every session of theirs; commit.

    The caller re-stamps the session that asked, so only the *other* sessions end.
    """
    if not verify_password(user, current):
        raise AccountError(_("the current password is wrong"), "current_password")
    _check_password(new)
    user.password_hash = hash_password(new)
    end_sessions(user)
    audit_trail.record(session, user, audit_trail.USER, user.id, "password_changed")
    session.commit()
    return user


def _one_time_password() -> str:
    """A random password for a new or reset account, shown once to the admin who made it."""
    return secrets.token_urlsafe(12)


def invite_user(
    session: DbSession, by: User, email: str, role: str, display_name: str | None = None
) -> tuple[User, str]:
    """Create a user with a one-time password (admins only) and commit; returns both."""
    password = _one_time_password()
    return create_user(session, email, password, role, display_name, by=by), password


def reset_to_one_time(session: DbSession, by: User, user_id: uuid.UUID) -> tuple[User, str]:
    """Give a user a new one-time password (admins only), ending their sessions; commit."""
    access.require_admin(by, _("Only admins may reset passwords."))
    password = _one_time_password()
    return reset_password(session, by, user_id, password), password


def list_users(session: DbSession, by: User) -> list[User]:
    """Every account, admins first, then by e-mail (admins only)."""
    access.require_admin(by, _("Only admins may manage other users."))
    order = (User.role != Role.ADMIN.value, User.email)
    return list(session.scalars(select(User).order_by(*order)))


def end_sessions(user: User) -> None:
    """End every signed-in session of ``user`` (the caller commits): the cookies' epoch is stale."""
    user.session_epoch = (user.session_epoch or 0) + 1


def session_is_current(user: User, epoch: object) -> bool:
    """True when a session stamped with ``epoch`` at sign-in has not been ended since."""
    return isinstance(epoch, int) and epoch == (user.session_epoch or 0)


def _revoke_all_tokens(session: DbSession, by: User | None, user: User, now: datetime) -> None:
    """A disabled user's tokens end with them, each on the audit trail."""
    for token in user.tokens:
        if token.revoked_at is None:
            token.revoked_at = now
            shown = {"name": token.name}
            audit_trail.record(session, by, audit_trail.TOKEN, token.id, "revoked", shown, now)


def _keep_an_admin(session: DbSession, leaving: User) -> None:
    """Refuse to take away the last active admin: nobody could manage users any more."""
    others = session.scalar(
        select(func.count()).where(
            User.role == Role.ADMIN.value, User.is_active_user, User.id != leaving.id
        )
    )
    if not others:
        raise Conflict(_("This is the last active admin; make another admin first."))


PREFERENCE_KEYS = frozenset({"lang", "zone", "theme"})


def save_preferences(session: DbSession, user: User, changes: dict[str, str]) -> None:
    """Remember the shell's choices for this user (the web layer validated the values)."""
    unknown = set(changes) - PREFERENCE_KEYS
    if unknown:
        raise Invalid(fields={key: _("is not a preference") for key in sorted(unknown)})
    user.preferences = {**(user.preferences or {}), **changes}
    session.commit()


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


def token_digest(token: str) -> str:
    """How a bearer secret (API token, calendar feed token) is stored: random and long, so a
    fast hash is enough (unlike passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: DbSession, user: User, name: str, *, by: User | None = None
) -> tuple[ApiToken, str]:
    """Create an API token and commit; returns the row and the token, which is never stored."""
    if by is not None:
        access.require_user_or_admin(by, user.id)
    label = name.strip()
    if not label or len(label) > 100:
        raise AccountError(_("token name must have 1 to 100 characters"), "name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        id=uuid.uuid4(),
        user_id=user.id,
        name=label,
        token_hash=token_digest(token),
        prefix=token[:10],
    )
    session.add(row)
    # The name and whose it is; never the token, nor its hash.
    shown = {"name": label, "user": user.email}
    audit_trail.record(session, by, audit_trail.TOKEN, row.id, "created", shown)
    session.commit()
    return row, token


def list_tokens(session: DbSession, by: User | None, user_id: uuid.UUID) -> list[ApiToken]:
    """A user's tokens, newest first (revoked ones included, marked so)."""
    user = get_user(session, by, user_id)
    query = select(ApiToken).where(ApiToken.user_id == user.id)
    return list(session.scalars(query.order_by(ApiToken.created_at.desc(), ApiToken.id)))


def visible_tokens(session: DbSession, by: User, limit: int = 500) -> list[ApiToken]:
    """The tokens ``by`` may manage, newest first: their own, or everyone's for admins."""
    query = select(ApiToken).options(joinedload(ApiToken.user))
    if not access.sees_all_accounts(by):
        query = query.where(ApiToken.user_id == by.id)
    return list(
        session.scalars(query.order_by(ApiToken.created_at.desc(), ApiToken.id).limit(limit))
    )


def user_for_token(session: DbSession, token: str, now: datetime | None = None) -> User | None:
    """The active user owning this unrevoked token, recording (committed) when it was used."""
    row: ApiToken | None = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == token_digest(token))
    )
    if row is None or row.is_revoked or not row.user.is_active:
        return None
    moment = now or utcnow()
    if row.last_used_at is None or moment - row.last_used_at > _LAST_USED_RESOLUTION:
        row.last_used_at = moment
        session.commit()
    return row.user


def get_token(session: DbSession, by: User, token_id: uuid.UUID) -> ApiToken:
    """A token ``by`` may manage (their own, or any for admins), else NotFound."""
    row = session.get(ApiToken, token_id)
    if row is None or not access.can_manage_account(by, row.user_id):
        raise NotFound(_("No such token."))
    return row


def revoke_token(
    session: DbSession, token_id: uuid.UUID, now: datetime | None = None, *, by: User | None = None
) -> bool:
    """Revoke a token (its owner's or any, for admins) and commit; False when there is none."""
    row = session.get(ApiToken, token_id)
    if row is None or (by is not None and not access.can_manage_account(by, row.user_id)):
        return False
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        shown = {"name": row.name}
        audit_trail.record(session, by, audit_trail.TOKEN, row.id, "revoked", shown, row.revoked_at)
    session.commit()
    return True
