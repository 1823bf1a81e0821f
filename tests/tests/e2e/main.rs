//! End-to-end tests: the real app over HTTP and WebSocket. Runs on SQLite + in-process
//! bus by default and on PostgreSQL + NATS + Redis when `MEDRT_TEST_*` are set.

mod accounts;
mod auth;
mod cli;
mod commission_recompute;
mod commissions;
mod distribution;
mod ledger_crash;
mod ledger_locks;
mod migrations;
mod ops;
mod orders;
mod outbox;
mod points;
mod products;
mod supervision;
mod two_nodes;
mod ws;
