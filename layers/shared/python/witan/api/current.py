"""The request in hand, as routes see it: caller, services, the audit record, and the policy guard."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from witan.access.policy import decide, held_activities
from witan.access.records import Activity, Grant, Principal
from witan.api.context import RequestRecord
from witan.api.deps import Services
from witan.api.errors import status_of
from witan.catalog.records import Dataset
from witan.errors import (
    DatasetDeletedError,
    ForbiddenError,
    NotFoundError,
    WitanError,
)

logger = logging.getLogger(__name__)
CONTEXT_KEY = "witan"
EVERYTHING = tuple(sorted(a.value for a in Activity))


@dataclass(eq=False)  # compared by identity: field-wise __eq__ has no use and costs at import
class Current:
    """Per-request state routes receive: services, the audit record, the time, the policy guard."""

    services: Services
    record: RequestRecord
    now: datetime
    audit_failed: bool = False
    outcome_recorded: bool = False  # a failed change's outcome followed its write-ahead event

    @property
    def principal(self) -> Principal:
        return self.record.principal

    @property
    def sub(self) -> str:
        # Routes run only for authenticated callers (anonymous ones are refused before routing).
        return self.principal.sub or ""

    def write_ahead(self, status: int) -> None:
        """Record the event before changing anything: no change is made that is not in the trail.

        Raises AuditWriteError (answered 503 by the app) so the change is not made.
        """
        # Marked, so a reader knows the status is the one intended when the change was about to be made.
        self.record.detail["recorded"] = "before-change"
        event = self.record.to_event(status)
        try:
            self.record.recorded_id = self.services.audit.record(event)
        except Exception:
            self.audit_failed = True
            raise

    @contextmanager
    def changing(self, status: int) -> Iterator[None]:
        """Write ahead, then make the change in the `with` block; if the change fails, record its
        outcome too, so the trail never says a failed change was made.

        The write-ahead event (detail `recorded: before-change`, the status intended) is followed by an
        outcome event (detail `recorded: outcome`, `write_ahead`: its id, the status answered). If that
        one cannot be written either, the caller gets 503 like any request whose audit failed.
        """
        self.write_ahead(status)
        try:
            yield
        except Exception as exc:
            self._record_outcome(exc)
            raise

    def _record_outcome(self, exc: Exception) -> None:
        if isinstance(exc, WitanError):
            self.record_outcome(status_of(exc), exc.code)
        else:
            self.record_outcome(500, "internal-error")

    def record_outcome(self, status: int, code: str | None) -> None:
        """Record that the change announced by the write-ahead event ended with `status` (once)."""
        record = self.record
        if record.recorded_id is None or self.outcome_recorded:
            return
        self.outcome_recorded = True
        intended = dict(record.detail)
        record.detail = {**intended, "recorded": "outcome", "write_ahead": record.recorded_id}
        try:
            self.services.audit.record(record.to_event(status, code))
        except Exception as audit_exc:  # the change failed and the trail cannot say so: answer 503
            logger.error("audit outcome write failed: %s", type(audit_exc).__name__)
            self.audit_failed = True
        finally:
            record.detail = intended

    def dataset(
        self, dataset_id: str, activity: Activity, *, live: bool = False
    ) -> tuple[Dataset, list[Grant]]:
        """Load the dataset and its grants and apply the policy; refuse (and say why in the audit).
        `live`: also refuse a deleted dataset (410), for routes that change it or hand out its file."""
        self.record.resource = f"dataset/{dataset_id}"
        dataset = self.services.catalog.get(dataset_id)
        if dataset is None:
            self.record.deny("no-such-dataset")
            raise NotFoundError(f"no dataset {dataset_id}")
        grants = self.services.grants.grants_for(dataset_id)
        decision = decide(self.principal, activity, dataset.owner_org, grants, self.now)
        self.record.detail["activity"] = activity.value
        if decision.grant is not None and decision.grant.purpose is not None:
            self.record.detail["grant_purpose"] = decision.grant.purpose.code
        if (
            decision.allowed
            and decision.reason.startswith("admin")
            and dataset.owner_org not in (self.principal.organisations)
        ):
            self.record.detail["admin_override"] = True
        if not decision.allowed:
            self.record.deny(decision.reason)
            if not decision.visible:
                # Do not reveal that a dataset exists to someone who may not know it.
                raise NotFoundError(f"no dataset {dataset_id}")
            raise ForbiddenError(f"you may not {activity.value} this dataset")
        self.record.allow(decision.reason)
        if live:
            self.require_live(dataset)
        return dataset, grants

    def require_live(self, dataset: Dataset) -> None:
        if dataset.deleted:
            raise DatasetDeletedError(dataset_id=dataset.id)

    def held(self, dataset: Dataset, grants: list[Grant]) -> list[str]:
        if self.principal.is_admin or dataset.owner_org in self.principal.organisations:
            return list(EVERYTHING)
        return sorted(a.value for a in held_activities(self.principal, dataset.owner_org, grants, self.now))


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def current(context: dict[str, Any]) -> Current:
    found: Current = context[CONTEXT_KEY]
    return found
