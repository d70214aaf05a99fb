"""Timer triggers: voice ticks and stale sessions, analytics rollups, scheduled season rolls, the outbox sweep.

Schedules are NCRONTAB (second minute hour day month day-of-week), UTC. Each timer calls one service.
"""

import azure.functions as func

bp = func.Blueprint()


@bp.timer_trigger(arg_name="timer", schedule="0 * * * * *", run_on_startup=False, use_monitor=False)
def voice_ticks(timer: func.TimerRequest) -> None:
    """Every minute: pay open voice sessions their minutes so far; close sessions open past 12 h."""
    from synapse.bootstrap import container
    from synapse.services import outbox_queue
    from synapse.services.voice_timer import credit_open_sessions

    c = container()
    credit_open_sessions(c.engine, clock=c.clock, announce=lambda ids: outbox_queue.enqueue(c.settings, ids))


@bp.timer_trigger(arg_name="timer", schedule="30 * * * * *", run_on_startup=False, use_monitor=False)
def analytics_rollups(timer: func.TimerRequest) -> None:
    """Every minute (offset 30 s from the ticks): fold new lake events into the analytics rollups."""
    from synapse.bootstrap import container
    from synapse.services.rollups import roll_up

    roll_up(container().engine)


@bp.timer_trigger(arg_name="timer", schedule="0 */5 * * * *", run_on_startup=False, use_monitor=False)
def season_rolls(timer: func.TimerRequest) -> None:
    """Every 5 minutes: roll seasons whose scheduled end has passed (guilds with the Seasons module on)."""
    from synapse.bootstrap import container
    from synapse.services.seasons_timer import roll_due_seasons

    c = container()
    roll_due_seasons(c.engine, clock=c.clock)


@bp.timer_trigger(arg_name="timer", schedule="15 * * * * *", run_on_startup=False, use_monitor=False)
def outbox_sweep(timer: func.TimerRequest) -> None:
    """Every minute: send outbox rows whose retry time came, or whose announce message was lost."""
    from synapse.bootstrap import container
    from synapse.services.announce import announcer_for

    announcer_for(container()).sweep()
