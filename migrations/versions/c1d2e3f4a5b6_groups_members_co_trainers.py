"""Groups for trainers: join codes, members, co-trainers

Revision ID: c1d2e3f4a5b6
Revises: c5166d8bfd5b
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = 'c1d2e3f4a5b6'
down_revision = 'c5166d8bfd5b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('course_id', sa.String(length=100), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_groups_code'), 'groups', ['code'], unique=True)
    op.create_index(op.f('ix_groups_course_id'), 'groups', ['course_id'], unique=False)
    op.create_index(op.f('ix_groups_owner_id'), 'groups', ['owner_id'], unique=False)
    for table in ('group_trainers', 'group_members'):
        columns = [
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('group_id', sa.Integer(), nullable=False),
            sa.Column('user_id', sa.Integer(), nullable=False),
        ]
        if table == 'group_members':
            columns.append(sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False))
        op.create_table(table, *columns,
        sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('group_id', 'user_id')
        )
        op.create_index(op.f(f'ix_{table}_group_id'), table, ['group_id'], unique=False)
        op.create_index(op.f(f'ix_{table}_user_id'), table, ['user_id'], unique=False)


def downgrade():
    for table in ('group_members', 'group_trainers'):
        op.drop_index(op.f(f'ix_{table}_user_id'), table_name=table)
        op.drop_index(op.f(f'ix_{table}_group_id'), table_name=table)
        op.drop_table(table)
    op.drop_index(op.f('ix_groups_owner_id'), table_name='groups')
    op.drop_index(op.f('ix_groups_course_id'), table_name='groups')
    op.drop_index(op.f('ix_groups_code'), table_name='groups')
    op.drop_table('groups')
