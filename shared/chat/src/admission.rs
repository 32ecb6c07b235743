//! Admission of model calls against the monthly budget, atomic on every backend and across every
//! function instance.
//!
//! A turn used to check "the month's spend + this call's estimate ≤ budget" and then spend, so
//! turns started together all passed the check and overspent together. Now each model call first
//! *reserves* its estimated cost on the tenant's spend ledger for the month: one item in the usage
//! table holding two amounts in integer micro-dollars,
//! * `settled`: what the month's finished calls cost (the usage counters show the same spend);
//! * `committed`: `settled` plus every outstanding reservation.
//!
//! A reservation adds its estimate to `committed` only while the sum stays within the budget (a
//! conditional write, `committed < budget − estimate + 1`), so checking and reserving are one
//! atomic step on SQLite and on DynamoDB, and no more calls are admitted than the budget has room
//! for however many turns race. After the call the reservation is settled with the actual cost
//! (`committed += actual − estimate`, `settled += actual`), or released if the call failed.
//!
//! **Why each reservation is also an item with a lease.** A process can die, or a request be
//! dropped, between reserving and settling; its estimate would stay in `committed` for the rest of
//! the month. So a reservation writes, in the same transaction as the ledger update, a hold item
//! with its amount and the end of its lease. A model call cannot outlive its turn's time budget
//! (24 s, under the 29 s function timeout), so a hold past its lease ([`HOLD_LEASE_SECONDS`])
//! belongs to a call that will never settle. When a reservation is refused, the month's stale
//! holds are given back (each by a transaction that deletes the hold and subtracts its amount, so
//! only one sweeper gives it back) and the reservation is tried again. Settling or releasing
//! deletes the hold in the same transaction; if a sweeper got there first, the actual cost is
//! still counted. Simpler-looking designs do not hold: a TTL alone cannot give the amount back
//! (an expired item is invisible and nothing runs when it expires), and reservations that count
//! "for a few minutes" inside the ledger item would need a condition over a sum of attributes,
//! which DynamoDB's condition expressions cannot state.
//!
//! **The bound.** Every admission leaves `committed ≤ budget`; afterwards `committed` grows only
//! by the estimate errors (actual − estimate) of the calls then in flight. So the month's settled
//! spend never passes the budget by more than the sum of the positive estimate errors of the
//! calls in flight when the last call was admitted; for one turn alone, whose calls are
//! sequential, that is one call's error. The estimate covers a call's input (four characters a
//! token), so the error is about that call's output cost. (A hold swept while its call still runs
//! would add that call's whole cost, which the lease, four times the longest a call can live,
//! rules out.)
//!
//! The ledger is opened at a month's first reservation from the month's usage counter, so a
//! month that began before the ledger existed starts from its real spend; a conditional put makes
//! concurrent first calls open it once. A call settles in the month it was admitted in.

use std::sync::Arc;

use basics::{Clock, IdGenerator};
use metering::UsageCounters;
use ports::{Condition, Item, Key, Query, StoreError, Table, TableStore, TransactOp, Update};
use serde_json::Value;

use crate::budget::COST_COUNTER;

/// How long a reservation counts without being settled: four times the longest a model call can
/// run (a turn's 24 s time budget, under the 29 s function timeout).
pub const HOLD_LEASE_SECONDS: i64 = 120;

/// A stale hold is kept (for the sweep) until well after its month is over, then expires.
const HOLD_RETENTION_SECONDS: i64 = 40 * 24 * 60 * 60;

/// Reservation attempts: a missing ledger, a race with a settle, a sweep each take one.
const ATTEMPTS: usize = 5;

const COMMITTED: &str = "committed";
const SETTLED: &str = "settled";
const AMOUNT: &str = "micro_usd";
const LEASE_UNTIL: &str = "lease_until";

/// The spend ledgers and reservations of model calls.
#[derive(Debug, Clone)]
pub struct Admission {
    store: Arc<dyn TableStore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

/// A model call's reservation, to settle or release when the call is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    tenant_id: String,
    month: String,
    id: String,
    micro_usd: i64,
    lease_until: i64,
}

impl Hold {
    /// The reserved amount in micro-dollars.
    pub fn micro_usd(&self) -> i64 {
        self.micro_usd
    }

    fn key(&self) -> Key {
        Key::new(
            tenant_pk(&self.tenant_id),
            format!("{}{}", hold_prefix(&self.month), self.id),
        )
    }

    fn item(&self) -> Item {
        let key = self.key();
        let mut item = Item::new();
        item.insert("pk".into(), Value::String(key.pk));
        item.insert("sk".into(), Value::String(key.sk));
        item.insert(AMOUNT.into(), Value::from(self.micro_usd));
        item.insert(LEASE_UNTIL.into(), Value::from(self.lease_until));
        item.insert(
            ports::table_store::EXPIRES_AT.into(),
            Value::from(self.lease_until + HOLD_RETENTION_SECONDS),
        );
        item
    }

    fn from_item(tenant_id: &str, month: &str, item: &Item) -> Option<Self> {
        let sk = item.get("sk").and_then(Value::as_str)?;
        Some(Self {
            tenant_id: tenant_id.to_string(),
            month: month.to_string(),
            id: sk.strip_prefix(&hold_prefix(month))?.to_string(),
            micro_usd: item.get(AMOUNT).and_then(Value::as_i64)?,
            lease_until: item.get(LEASE_UNTIL).and_then(Value::as_i64)?,
        })
    }
}

/// A reservation the budget has no room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The month's settled spend, micro-dollars.
    pub settled: i64,
    /// Settled spend plus outstanding reservations, micro-dollars.
    pub committed: i64,
}

/// A month's ledger, in micro-dollars (zeros before its first reservation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerTotals {
    pub committed: i64,
    pub settled: i64,
}

fn tenant_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

fn ledger_key(tenant_id: &str, month: &str) -> Key {
    Key::new(tenant_pk(tenant_id), format!("SPEND#{month}"))
}

fn hold_prefix(month: &str) -> String {
    format!("SPEND#{month}#HOLD#")
}

impl Admission {
    pub fn new(
        store: Arc<dyn TableStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { store, clock, ids }
    }

    /// Reserves `estimate` micro-dollars for a model call this month, if the month's committed
    /// spend stays within `budget` (micro-dollars; `None`: no budget, always admitted but still
    /// counted, so a budget set later starts from the right spend).
    pub async fn reserve(
        &self,
        tenant_id: &str,
        estimate: i64,
        budget: Option<i64>,
    ) -> Result<Result<Hold, Refused>, StoreError> {
        let estimate = estimate.max(0);
        let now = self.clock.epoch_seconds();
        let month = metering::month_of(self.clock.now());
        let ledger = ledger_key(tenant_id, &month);
        let mut swept = false;
        for _ in 0..ATTEMPTS {
            let hold = Hold {
                tenant_id: tenant_id.to_string(),
                month: month.clone(),
                id: self.ids.new_id("hold"),
                micro_usd: estimate,
                lease_until: now + HOLD_LEASE_SECONDS,
            };
            // `NumberBelow` implies the ledger exists; without a budget, `Exists` keeps a
            // missing ledger from being created at zero instead of from the month's spend.
            let condition = match budget {
                Some(budget) => Condition::number_below(
                    COMMITTED,
                    budget.saturating_sub(estimate).saturating_add(1),
                ),
                None => Condition::Exists,
            };
            let reserved = self
                .store
                .transact_write(vec![
                    TransactOp::Update {
                        table: Table::Usage,
                        key: ledger.clone(),
                        update: Update::new().add(COMMITTED, estimate),
                        condition: Some(condition),
                    },
                    TransactOp::Put {
                        table: Table::Usage,
                        item: hold.item(),
                        condition: Some(Condition::NotExists),
                    },
                ])
                .await;
            match reserved {
                Ok(()) => return Ok(Ok(hold)),
                Err(StoreError::TransactionCanceled { .. }) => {}
                Err(err) => return Err(err),
            }
            let Some(totals) = self.read(tenant_id, &month).await? else {
                self.open(tenant_id, &month).await?;
                continue;
            };
            let fits = budget.is_none_or(|b| totals.committed.saturating_add(estimate) <= b);
            if fits {
                // A settle or release made room between the write and the read.
                continue;
            }
            if swept || self.sweep(tenant_id, &month, now).await? == 0 {
                return Ok(Err(Refused {
                    settled: totals.settled,
                    committed: totals.committed,
                }));
            }
            swept = true;
        }
        Err(StoreError::Unavailable(
            "the spend ledger kept changing during a reservation".to_string(),
        ))
    }

    /// Settles a reservation with the call's actual cost (micro-dollars).
    pub async fn settle(&self, hold: Hold, actual: i64) -> Result<(), StoreError> {
        let actual = actual.max(0);
        let ledger = ledger_key(&hold.tenant_id, &hold.month);
        let settled = self
            .store
            .transact_write(vec![
                TransactOp::Delete {
                    table: Table::Usage,
                    key: hold.key(),
                    condition: Some(Condition::Exists),
                },
                TransactOp::Update {
                    table: Table::Usage,
                    key: ledger.clone(),
                    update: Update::new()
                        .add(COMMITTED, actual - hold.micro_usd)
                        .add(SETTLED, actual),
                    condition: Some(Condition::Exists),
                },
            ])
            .await;
        match settled {
            Ok(()) => Ok(()),
            // The hold outlived its lease and was given back: the cost still counts.
            Err(StoreError::TransactionCanceled { .. }) => {
                tracing::warn!(
                    tenant_id = hold.tenant_id,
                    "a model call settled after its reservation's lease"
                );
                self.store
                    .update(
                        Table::Usage,
                        &ledger,
                        Update::new().add(COMMITTED, actual).add(SETTLED, actual),
                        Some(Condition::Exists),
                    )
                    .await
                    .map(|_| ())
            }
            Err(err) => Err(err),
        }
    }

    /// Gives a reservation back (the call failed or was cut off, and cost nothing we know of).
    pub async fn release(&self, hold: Hold) -> Result<(), StoreError> {
        self.give_back(&hold).await.map(|_| ())
    }

    /// Deletes a hold and subtracts its amount, unless it is gone already (settled, released
    /// or swept by someone else): `Ok(false)`.
    async fn give_back(&self, hold: &Hold) -> Result<bool, StoreError> {
        let given = self
            .store
            .transact_write(vec![
                TransactOp::Delete {
                    table: Table::Usage,
                    key: hold.key(),
                    condition: Some(Condition::Exists),
                },
                TransactOp::Update {
                    table: Table::Usage,
                    key: ledger_key(&hold.tenant_id, &hold.month),
                    update: Update::new().add(COMMITTED, -hold.micro_usd),
                    condition: Some(Condition::Exists),
                },
            ])
            .await;
        match given {
            Ok(()) => Ok(true),
            Err(StoreError::TransactionCanceled { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Gives back the month's holds whose lease ended before `now`; returns how many.
    async fn sweep(&self, tenant_id: &str, month: &str, now: i64) -> Result<usize, StoreError> {
        let mut released = 0;
        for hold in self.holds(tenant_id, month).await? {
            if hold.lease_until < now && self.give_back(&hold).await? {
                tracing::warn!(
                    tenant_id,
                    micro_usd = hold.micro_usd,
                    "gave back a model call's reservation that was never settled"
                );
                released += 1;
            }
        }
        Ok(released)
    }

    /// Opens a month's ledger from the month's usage counter, unless it is open already.
    async fn open(&self, tenant_id: &str, month: &str) -> Result<(), StoreError> {
        let usage = UsageCounters::new(Arc::clone(&self.store), Arc::clone(&self.clock));
        let spent = usage
            .month_totals(tenant_id, month)
            .await?
            .get(COST_COUNTER)
            .copied()
            .unwrap_or(0)
            .max(0);
        let key = ledger_key(tenant_id, month);
        let mut item = Item::new();
        item.insert("pk".into(), Value::String(key.pk));
        item.insert("sk".into(), Value::String(key.sk));
        item.insert(COMMITTED.into(), Value::from(spent));
        item.insert(SETTLED.into(), Value::from(spent));
        match self
            .store
            .put(Table::Usage, item, Some(Condition::NotExists))
            .await
        {
            Err(err) if !err.is_condition_failure() => Err(err),
            _ => Ok(()),
        }
    }

    async fn read(&self, tenant_id: &str, month: &str) -> Result<Option<LedgerTotals>, StoreError> {
        let item = self
            .store
            .get(Table::Usage, &ledger_key(tenant_id, month))
            .await?;
        Ok(item.map(|item| {
            let amount = |name: &str| item.get(name).and_then(Value::as_i64).unwrap_or(0);
            LedgerTotals {
                committed: amount(COMMITTED),
                settled: amount(SETTLED),
            }
        }))
    }

    /// A month's ledger (`2026-11`).
    pub async fn totals(&self, tenant_id: &str, month: &str) -> Result<LedgerTotals, StoreError> {
        Ok(self.read(tenant_id, month).await?.unwrap_or_default())
    }

    /// The month's settled spend so far, in micro-dollars.
    pub async fn settled_this_month(&self, tenant_id: &str) -> Result<i64, StoreError> {
        let month = metering::month_of(self.clock.now());
        Ok(self.totals(tenant_id, &month).await?.settled)
    }

    /// A month's outstanding reservations, stale ones included.
    pub async fn holds(&self, tenant_id: &str, month: &str) -> Result<Vec<Hold>, StoreError> {
        let mut holds = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .query(
                    Table::Usage,
                    Query::partition(tenant_pk(tenant_id))
                        .begins_with(hold_prefix(month))
                        .after(cursor),
                )
                .await?;
            holds.extend(
                page.items
                    .iter()
                    .filter_map(|item| Hold::from_item(tenant_id, month, item)),
            );
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(holds),
            }
        }
    }
}
