"""Group services: create, find what a trainer may see, join, leave, share. They flush only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select

from app.accounts.models import User
from app.accounts.services import normalise_email
from app.database import writes
from app.extensions import db
from app.trainer.models import Group, GroupMember, GroupTrainer, join_code


class GroupError(ValueError):
    """A group operation that cannot be done as asked."""


class GroupClosed(GroupError):
    """The group's closing date has passed: it accepts no new members."""


class UnknownTrainer(GroupError):
    """No trainer account has the e-mail given for a co-trainer."""


@writes
def create_group(
    owner: User, course_id: str, name: str, language: str, closes_at: datetime | None = None
) -> Group:
    """Create a group with a fresh join code.

    :param owner: the trainer (or admin) who owns it.
    :param course_id: the course the group follows (checked by the caller against the catalogue).
    """
    if not owner.is_trainer:
        raise GroupError("only trainers and admins own groups")
    name = name.strip()
    if not name:
        raise GroupError("a group needs a name")
    group = Group(
        name=name[:120], course_id=course_id, language=language, owner=owner, closes_at=closes_at
    )
    group.code = _unused_code()
    db.session.add(group)
    db.session.flush()
    return group


def _unused_code() -> str:
    """A join code no group uses (collisions are astronomically rare, but cheap to rule out)."""
    while True:
        code = join_code()
        if db.session.scalar(select(Group.id).where(Group.code == code)) is None:
            return code


@writes
def regenerate_code(group: Group) -> str:
    """Give the group a new join code; the old link stops working at once."""
    group.code = _unused_code()
    db.session.flush()
    return group.code


def visible_groups(user: User) -> list[Group]:
    """Groups a trainer owns or co-trains, newest first; every group for an admin."""
    query = select(Group).order_by(Group.created_at.desc(), Group.id.desc())
    if user.role != "admin":
        shared = select(GroupTrainer.group_id).where(GroupTrainer.user_id == user.id)
        query = query.where(or_(Group.owner_id == user.id, Group.id.in_(shared)))
    return list(db.session.scalars(query))


def group_for(user: User, group_id: int) -> Group | None:
    """The group if `user` may see it (owner, co-trainer or admin), else None."""
    group = db.session.get(Group, group_id)
    if group is None or not user.is_trainer:
        return None
    if user.role == "admin" or group.owner_id == user.id:
        return group
    shared = db.session.scalar(
        select(GroupTrainer.id).where(
            GroupTrainer.group_id == group.id, GroupTrainer.user_id == user.id
        )
    )
    return group if shared is not None else None


def group_by_code(code: str) -> Group | None:
    """The group with this join code (codes are shown in capitals but typed any way)."""
    code = code.strip().upper()
    if not code or len(code) > 16:
        return None
    return db.session.scalar(select(Group).where(Group.code == code))


def co_trainers(group: Group) -> list[User]:
    """The trainers the owner shares the group with, by name."""
    rows = db.session.scalars(
        select(User)
        .join(GroupTrainer, GroupTrainer.user_id == User.id)
        .where(GroupTrainer.group_id == group.id)
        .order_by(User.display_name, User.id)
    )
    return list(rows)


@writes
def add_co_trainer(group: Group, email: str) -> User:
    """Share the group with another trainer, found by e-mail.

    :raises UnknownTrainer: when no trainer or admin has that e-mail.
    """
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_trainer:
        raise UnknownTrainer(email)
    if user.id != group.owner_id and user not in co_trainers(group):
        db.session.add(GroupTrainer(group_id=group.id, user_id=user.id))
        db.session.flush()
    return user


@writes
def remove_co_trainer(group: Group, user_id: int) -> None:
    """Stop sharing the group with a co-trainer."""
    db.session.execute(
        delete(GroupTrainer).where(
            GroupTrainer.group_id == group.id, GroupTrainer.user_id == user_id
        )
    )
    db.session.flush()


def is_member(group: Group, user: User) -> bool:
    """Whether the user is currently in the group."""
    return (
        db.session.scalar(
            select(GroupMember.id).where(
                GroupMember.group_id == group.id, GroupMember.user_id == user.id
            )
        )
        is not None
    )


@writes
def join(group: Group, user: User, now: datetime | None = None) -> bool:
    """Add the user to the group; False if they were already in it.

    :raises GroupClosed: when the group's closing date has passed.
    """
    if is_member(group, user):
        return False
    if group.is_closed(now):
        raise GroupClosed(group.code)
    db.session.add(GroupMember(group_id=group.id, user_id=user.id))
    db.session.flush()
    return True


@writes
def leave(group_id: int, user: User) -> bool:
    """Take the user out of a group; from then on its trainers no longer see them."""
    result = db.session.execute(
        delete(GroupMember).where(GroupMember.group_id == group_id, GroupMember.user_id == user.id)
    )
    db.session.flush()
    return bool(getattr(result, "rowcount", 0))


def groups_of(user: User) -> list[Group]:
    """The groups a learner is in, by name."""
    return list(
        db.session.scalars(
            select(Group)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == user.id)
            .order_by(Group.name, Group.id)
        )
    )


def members(group: Group) -> list[User]:
    """The group's current members (registered accounts only: guests cannot join), by name."""
    return list(
        db.session.scalars(
            select(User)
            .join(GroupMember, GroupMember.user_id == User.id)
            .where(GroupMember.group_id == group.id)
            .order_by(User.display_name, User.id)
        )
    )


def member_count(group: Group) -> int:
    """How many learners are in the group."""
    return len(
        db.session.scalars(select(GroupMember.id).where(GroupMember.group_id == group.id)).all()
    )
