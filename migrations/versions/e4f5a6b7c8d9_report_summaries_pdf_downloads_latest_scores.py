"""Summaries for reports: PDF downloads per module and course, audio seconds, latest scores

Revision ID: e4f5a6b7c8d9
Revises: d3e4f5a6b7c8
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e4f5a6b7c8d9'
down_revision = 'd3e4f5a6b7c8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('module_progress') as batch:
        batch.add_column(sa.Column('pdf_downloads', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('audio_seconds', sa.Float(), nullable=False, server_default='0'))
    op.create_table('course_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner', sa.String(length=80), nullable=False),
    sa.Column('course_id', sa.String(length=100), nullable=False),
    sa.Column('pdf_downloads', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('last_activity', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('learner', 'course_id')
    )
    op.create_index(op.f('ix_course_progress_learner'), 'course_progress', ['learner'], unique=False)
    op.create_table('latest_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner', sa.String(length=80), nullable=False),
    sa.Column('course_id', sa.String(length=100), nullable=False),
    sa.Column('module_id', sa.String(length=100), nullable=False),
    sa.Column('question_id', sa.String(length=100), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('learner', 'course_id', 'module_id', 'question_id')
    )
    # Covers the mastery query: one module's rows, already in learner order, without the table.
    op.create_index('ix_latest_scores_course_module', 'latest_scores', ['course_id', 'module_id', 'learner', 'question_id', 'score'], unique=False)
    # Reports read only the summary tables from now on: fill them from what is stored.
    op.execute(
        "UPDATE module_progress SET pdf_downloads = (SELECT count(*) FROM statements s"
        " WHERE s.verb = 'downloaded' AND s.learner = module_progress.learner"
        " AND s.course_id = module_progress.course_id AND s.module_id = module_progress.module_id)"
    )
    op.execute(
        "INSERT INTO course_progress (learner, course_id, pdf_downloads, last_activity)"
        " SELECT learner, course_id, count(*), max(timestamp) FROM statements"
        " WHERE verb = 'downloaded' AND module_id IS NULL GROUP BY learner, course_id"
    )
    progress = sa.table(
        'module_progress', sa.column('id', sa.Integer), sa.column('audio_listened', sa.JSON),
        sa.column('audio_seconds', sa.Float),
    )
    bind = op.get_bind()
    listened = [
        {'row_id': row_id, 'seconds': round(sum(float(v) for v in audio.values()), 3)}
        for row_id, audio in bind.execute(sa.select(progress.c.id, progress.c.audio_listened))
        if audio
    ]
    if listened:
        bind.execute(
            progress.update().where(progress.c.id == sa.bindparam('row_id'))
            .values(audio_seconds=sa.bindparam('seconds')),
            listened,
        )
    attempts = sa.table(
        'quiz_attempts', sa.column('id', sa.Integer), sa.column('learner', sa.String),
        sa.column('course_id', sa.String), sa.column('module_id', sa.String),
        sa.column('submitted_at', sa.DateTime), sa.column('scores', sa.JSON),
    )
    latest = {}
    query = sa.select(
        attempts.c.learner, attempts.c.course_id, attempts.c.module_id, attempts.c.scores
    ).order_by(attempts.c.submitted_at, attempts.c.id)
    for learner, course_id, module_id, scores in op.get_bind().execute(query):
        latest[(learner, course_id, module_id)] = scores or {}
    rows = [
        {'learner': learner, 'course_id': course_id, 'module_id': module_id,
         'question_id': question_id, 'score': float(score)}
        for (learner, course_id, module_id), scores in latest.items()
        for question_id, score in scores.items()
    ]
    scores_table = sa.table(
        'latest_scores', sa.column('learner', sa.String), sa.column('course_id', sa.String),
        sa.column('module_id', sa.String), sa.column('question_id', sa.String),
        sa.column('score', sa.Float),
    )
    for start in range(0, len(rows), 5000):
        op.bulk_insert(scores_table, rows[start:start + 5000])


def downgrade():
    op.drop_index('ix_latest_scores_course_module', table_name='latest_scores')
    op.drop_table('latest_scores')
    op.drop_index(op.f('ix_course_progress_learner'), table_name='course_progress')
    op.drop_table('course_progress')
    with op.batch_alter_table('module_progress') as batch:
        batch.drop_column('audio_seconds')
        batch.drop_column('pdf_downloads')
