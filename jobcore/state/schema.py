"""The database's schema as the list of migrations that builds it, oldest first.

A new state folder runs them all; an older one runs those it lacks (``PRAGMA user_version``
counts what ran). A state folder written by the first release is kept as a test fixture
(``tests/fixtures/state-first-release``) so this chain is checked end to end.
"""

from __future__ import annotations

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT,
        command TEXT NOT NULL,
        cwd TEXT NOT NULL,
        env TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        reason TEXT,
        created_at REAL NOT NULL,
        queued_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        exit_code INTEGER,
        worker_pid INTEGER,
        worker_start REAL,
        cmd_pid INTEGER,
        cmd_start REAL,
        boot_id TEXT,
        stop_request TEXT,
        total INTEGER,
        done INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        current_item TEXT,
        rate REAL,
        eta_s REAL,
        progress_at REAL
    );
    CREATE INDEX jobs_status ON jobs(status);
    CREATE INDEX jobs_name ON jobs(name);
    CREATE TABLE samples (
        job_id TEXT NOT NULL,
        t REAL NOT NULL,
        done INTEGER NOT NULL
    );
    CREATE INDEX samples_job ON samples(job_id, t);
    """,
    """
    ALTER TABLE jobs ADD COLUMN spec TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE jobs ADD COLUMN paused_until REAL;
    CREATE TABLE items (
        job_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        item TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER,
        error TEXT,
        result TEXT,
        started_at REAL,
        finished_at REAL,
        duration REAL,
        not_before REAL,
        forgotten INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, idx)
    );
    CREATE INDEX items_by_status ON items(job_id, status, idx);
    CREATE INDEX items_failed ON items(status, finished_at);
    """,
    """
    CREATE TABLE groups (name TEXT PRIMARY KEY, parallel INTEGER);
    INSERT INTO groups (name, parallel) VALUES ('default', NULL);
    ALTER TABLE jobs ADD COLUMN grp TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN after TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE jobs ADD COLUMN not_before REAL;
    ALTER TABLE jobs ADD COLUMN waiting_on TEXT;
    CREATE INDEX jobs_group ON jobs(grp, status);
    """,
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL,
        t REAL NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT
    );
    CREATE INDEX events_job ON events(job_id, seq);
    ALTER TABLE jobs ADD COLUMN on_done TEXT;
    ALTER TABLE jobs ADD COLUMN redact TEXT NOT NULL DEFAULT '[]';
    """,
    # Partial indexes: an item's pending -> running -> done touches one index entry, not four
    # (docs/decisions/0011-batch-ledger-few-commits.md).
    """
    DROP INDEX items_by_status;
    DROP INDEX items_failed;
    CREATE INDEX items_pending ON items(job_id, idx) WHERE status = 'pending';
    CREATE INDEX items_failed_by_job ON items(job_id, finished_at) WHERE status = 'failed';
    CREATE INDEX items_failed_at ON items(finished_at) WHERE status = 'failed';
    """,
    # Durations across processes move to the boot clock, their boot beside them; queued_at
    # stays wall time for people (docs/decisions/0009-boot-clock-for-durations.md).
    """
    ALTER TABLE jobs ADD COLUMN queued_clock REAL;
    ALTER TABLE jobs ADD COLUMN queued_boot TEXT;
    ALTER TABLE items ADD COLUMN not_before_boot TEXT;
    UPDATE items SET not_before = NULL WHERE not_before IS NOT NULL;
    DELETE FROM samples;
    ALTER TABLE samples ADD COLUMN boot TEXT NOT NULL DEFAULT '';
    """,
    # A stop's grace reaches the batch worker that stops the items; ``stop_signalled`` says
    # the stop signalled the command, so a command that ended by itself keeps its ending.
    """
    ALTER TABLE jobs ADD COLUMN stop_grace REAL;
    ALTER TABLE jobs ADD COLUMN stop_signalled INTEGER NOT NULL DEFAULT 0;
    """,
    # What is shown of a job's command line and callback, masked by its Redactor at launch
    # (the clear ones stay in command/on_done for the worker only). NULL: a job from before,
    # masked by shape when shown.
    """
    ALTER TABLE jobs ADD COLUMN masked TEXT;
    """,
    # A running item's own progress (what ``jobcore progress``, ``progress()`` or a tqdm bar
    # report inside it), kept beside the item so the batch's counts stay the batch's; and
    # the seconds a job ran in its earlier legs, so ``elapsed`` counts every resume; a failed
    # one-command job hidden from ``failures`` (``--forget``), as failed items are.
    """
    ALTER TABLE items ADD COLUMN progress_done INTEGER;
    ALTER TABLE items ADD COLUMN progress_total INTEGER;
    ALTER TABLE items ADD COLUMN progress_note TEXT;
    ALTER TABLE jobs ADD COLUMN run_s REAL NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN forgotten INTEGER NOT NULL DEFAULT 0;
    UPDATE jobs SET run_s = MAX(0, finished_at - started_at)
        WHERE finished_at IS NOT NULL AND started_at IS NOT NULL;
    """,
    # A waiting job is a row, started by whoever finds its turn come (jobcore.ops.dispatch):
    # ``claim`` is the token of the start under way and ``claimer_*`` who makes it (a claim
    # whose claimer died before a worker was recorded goes back in line); ``due_*`` is when
    # a self-paused job resumes, on the boot clock (``paused_until`` is what people see).
    """
    ALTER TABLE jobs ADD COLUMN claim TEXT;
    ALTER TABLE jobs ADD COLUMN claimer_pid INTEGER;
    ALTER TABLE jobs ADD COLUMN claimer_start REAL;
    ALTER TABLE jobs ADD COLUMN claimer_boot TEXT;
    ALTER TABLE jobs ADD COLUMN due_clock REAL;
    ALTER TABLE jobs ADD COLUMN due_boot TEXT;
    CREATE INDEX jobs_waiting ON jobs(grp, priority DESC, seq) WHERE status = 'queued';
    """,
    # ``held``: queued by ``run --hold``, it starts only when ``release``d or ``start``ed;
    # ``front``: ``jobcore start`` put it at the head of its group's line.
    """
    ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN front INTEGER NOT NULL DEFAULT 0;
    """,
    # ``group pause``: none of the group's waiting jobs starts until ``group resume``.
    """
    ALTER TABLE groups ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    """,
    # ``launch_token``: names the job a ``jobcore run`` asked the dispatcher to launch, so
    # the client, left without an answer, launches it itself at most once
    # (docs/decisions/0028-hand-the-launch-to-the-dispatcher.md).
    """
    ALTER TABLE jobs ADD COLUMN launch_token TEXT;
    CREATE UNIQUE INDEX jobs_launch_token ON jobs(launch_token) WHERE launch_token IS NOT NULL;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def split_sql(script: str) -> list[str]:
    """Statements of a migration script (executescript would commit our transaction)."""
    return [s.strip() for s in script.split(";") if s.strip()]
