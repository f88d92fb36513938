"""A seeded, concurrent, mixed workload; afterwards every balance is explainable from its entries.

Threads reserve and capture / void / abandon holds, sweep expired ones, top up (with replayed
idempotency keys), redeem shared codes, and make staff grants and adjustments, all at once on a few
workspaces. Late captures of expired holds are left out on purpose: they bill without the
available-balance guard (no served request goes unbilled), so they may take a balance below zero.
"""
import random
import threading
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import func, select

from ethergate.accounts.models import User
from ethergate.billing import ledger, topups
from ethergate.billing.models import CreditAccount, Hold, LedgerEntry, RedemptionCode
from ethergate.extensions import db
from ethergate.billing.models import KeySpend
from ethergate.timeutil import utcnow

SEED = 20261124
THREADS, OPS_PER_THREAD, WORKSPACES, CODES = 8, 60, 4, 12
KEY_CAP = 4_000_000


def setup_world(factories):
    staff_id = factories.user(staff=True).id
    workspaces = []
    for _ in range(WORKSPACES):
        workspace = factories.workspace(credits="5.00")
        key = factories.key(workspace, monthly_spend_cap_micro=KEY_CAP).key
        workspaces.append((workspace.id, key.id))
    codes = [topups.create_code(100_000 * (n + 1))[1] for n in range(CODES)]
    db.session.commit()
    return staff_id, workspaces, codes


def workload(index: int, staff_id: int, workspaces, codes, deltas: list, errors: list, refusals: list) -> None:
    """One thread's operations; appends (workspace_id, amount) for every entry it caused."""
    rng = random.Random(SEED * 100 + index)
    expected = (ledger.InsufficientCredits, ledger.SpendCapExceeded, topups.CodeAlreadyRedeemed)
    for n in range(OPS_PER_THREAD):
        workspace_id, key_id = rng.choice(workspaces)
        op = rng.choices(("hold", "abandon", "sweep", "topup", "redeem", "grant", "adjust"),
                         weights=(10, 2, 1, 2, 1, 1, 1))[0]
        try:
            if op == "hold":
                amount = rng.randint(1, 4_000_000)
                capped = rng.random() < 0.5  # half the traffic through the capped key, half keyless
                hold = ledger.reserve(workspace_id, amount, request_id=f"t{index}-{n}",
                                      api_key_id=key_id if capped else None, key_cap=KEY_CAP if capped else None)
                if rng.random() < 0.75:
                    cost = rng.choice((0, amount, rng.randint(0, amount)))
                    ledger.capture(hold, cost, request_id=f"t{index}-{n}", model_id="qwen/qwen-plus")
                    if cost:
                        deltas.append((workspace_id, -cost))
                else:
                    assert ledger.void(hold) is True
            elif op == "abandon":
                # A hold whose process died: already past its expiry, so a sweep or this void resolves it.
                past = utcnow() - timedelta(seconds=120)
                hold = ledger.reserve(workspace_id, rng.randint(1, 2_000_000), request_id=f"a{index}-{n}",
                                      api_key_id=key_id, key_cap=KEY_CAP, ttl_seconds=30, now=past)
                if rng.random() < 0.5:
                    ledger.void(hold)
            elif op == "sweep":
                ledger.sweep_expired_holds()
            elif op == "topup":
                k = rng.randint(0, 5)  # a small key pool, so threads replay each other's top-ups
                entry = ledger.post_entry(workspace_id, (k + 1) * 250_000, "topup",
                                          idempotency_key=f"inv-{workspace_id}-{k}")
                if not entry.replayed:
                    deltas.append((workspace_id, entry.amount))
            elif op == "redeem":
                entry = topups.redeem_code(workspace_id, rng.choice(codes))
                deltas.append((workspace_id, entry.amount))
            elif op in ("grant", "adjust"):
                staff = db.session.get(User, staff_id)
                amount = rng.randint(1, 3_000_000)
                if op == "grant":
                    entry = topups.grant(workspace_id, amount, staff, "load test grant")
                else:
                    entry = topups.adjust(workspace_id, -amount, staff, "load test correction")
                deltas.append((workspace_id, entry.amount))
        except expected as exc:
            refusals.append(type(exc).__name__)
            db.session.rollback()
        except Exception as exc:  # noqa: BLE001  (reported by the test)
            errors.append(f"thread {index} op {n} {op}: {exc!r}")
            db.session.rollback()


def test_concurrent_mixed_workload_keeps_every_invariant(app, factories):
    staff_id, workspaces, codes = setup_world(factories)
    initial = {workspace_id: ledger.account_state(workspace_id)[0] for workspace_id, _ in workspaces}
    db.session.commit()  # the main thread must not sit in a transaction (on SQLite, the write lock)
    deltas, errors, refusals = [], [], []

    def run(index):
        with app.app_context():
            try:
                workload(index, staff_id, workspaces, codes, deltas, errors, refusals)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not any(t.is_alive() for t in threads), "workload did not finish"
    assert not errors, errors[:5]
    assert {"InsufficientCredits", "SpendCapExceeded", "CodeAlreadyRedeemed"} <= set(refusals), "too little contention"

    ledger.sweep_expired_holds(now=utcnow() + timedelta(days=1))
    expected = dict(initial)
    for workspace_id, amount in deltas:
        expected[workspace_id] += amount

    for workspace_id, _ in workspaces:
        balance, held = ledger.account_state(workspace_id)
        assert balance == ledger.recompute_balance(workspace_id) == expected[workspace_id]
        assert held == ledger.pending_held(workspace_id) == 0
        assert balance >= 0
        running = 0
        for entry in db.session.scalars(select(LedgerEntry).where(LedgerEntry.workspace_id == workspace_id)
                                        .order_by(LedgerEntry.id)):
            running += entry.amount_micro
            assert entry.balance_after_micro == running >= 0, entry.id

    holds = db.session.scalars(select(Hold)).all()
    assert holds and {h.status for h in holds} <= {"captured", "voided", "expired"}
    assert {"captured", "voided", "expired"} <= {h.status for h in holds}, "workload too small to mix outcomes"
    entries_by_hold = defaultdict(list)
    for entry in db.session.scalars(select(LedgerEntry).where(LedgerEntry.hold_id.is_not(None))):
        entries_by_hold[entry.hold_id].append(entry)
    spent_by_key_month = defaultdict(int)
    for hold in holds:
        billed = entries_by_hold.get(hold.id, [])
        if hold.status == "captured" and hold.captured_micro:
            assert [-e.amount_micro for e in billed] == [hold.captured_micro], hold.id
            assert hold.captured_micro <= hold.amount_micro
            spent_by_key_month[(hold.api_key_id, hold.key_month)] += hold.captured_micro
        else:
            assert billed == [], hold.id
        assert hold.resolved_at is not None

    for row in db.session.scalars(select(KeySpend)):
        assert row.held_micro == 0
        assert row.spent_micro == spent_by_key_month[(row.api_key_id, row.month)] <= KEY_CAP

    redeemed = db.session.scalars(select(RedemptionCode).where(RedemptionCode.redeemed_at.is_not(None))).all()
    for code in redeemed:
        credits = db.session.scalar(select(func.count()).select_from(LedgerEntry)
                                    .where(LedgerEntry.idempotency_key == f"code:{code.id}",
                                           LedgerEntry.workspace_id == code.redeemed_workspace_id))
        assert credits == 1, code.id
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.kind == "redemption")) == len(redeemed)
    assert db.session.scalar(select(func.min(CreditAccount.balance_micro - CreditAccount.held_micro))) >= 0
