"""The credit-control policy of a configuration, as the ledger takes it."""

from __future__ import annotations

from gateway.core.alerts import AlertLevel, LevelKind
from gateway.core.credit import FriendlySchedule, RecoveryTerms, RepaymentOrder
from gateway.ledger.controls import ControlPolicy
from gateway.runtime.config import GatewayConfig


def control_policy(config: GatewayConfig) -> ControlPolicy:
    """Alert levels, friendly hours, reconnect level and debt recovery from `config`."""
    credit, alerts = config.credit_control, config.alerts
    night = credit.friendly_hours
    return ControlPolicy(
        alert_levels=tuple(
            AlertLevel(LevelKind(level.kind), level.threshold, level.margin)
            for level in alerts.default_levels
        ),
        friendly=FriendlySchedule(
            timezone=credit.timezone,
            night_start=night[0] if night else None,
            night_end=night[1] if night else None,
            weekend_days=frozenset({5, 6}) if credit.friendly_weekends else frozenset(),
            holidays=frozenset(credit.holidays),
        ),
        reconnect_level=credit.reconnect_level,
        recovery=RecoveryTerms(
            share=credit.debt_recovery.share,
            cap_per_top_up=credit.debt_recovery.cap_per_top_up,
            order=RepaymentOrder(credit.debt_recovery.order),
        ),
        alert_topic=(config.mqtt.prefix + alerts.mqtt_topic),
        webhooks=bool(alerts.webhooks),
    )
