//! The one integration-test binary (every extra binary would link DataFusion again).
//!
//! Modules: `agency` (agency formats end to end), `common` (a lake in a temp dir with the shipped pipelines and views),
//! `kalmar` (the acceptance figures of Kalmar's Bilaga 1), `lake` (determinism, skipping,
//! a killed run), `damaged` and `disk_full` (damaged deliveries, kills, a full disk), `privacy` (no identity number in anything a run writes), `config`
//! (check reports every problem), `http` (the HTTP source against a mock server) and
//! `slt` (sqllogictest files for the views), `uppfoljning` (programme follow-up acceptance),
//! `deploy` (deploy/ files against systemd-analyze, kubernetes-validate, the Compose schema),
//! `object_storage` (leases and Delta commits on a real S3 API, moto's server, read back
//! by delta-rs and pyarrow), `delta_interop` (tables delta-rs wrote, with checkpoints and
//! escaped partition values, read by `malgrupp sql --delta`).

mod agency;
mod api;
mod azure;
mod common;
mod config;
mod daemon;
mod damaged;
mod delta_interop;
mod deploy;
mod disclosure;
mod disk_full;
mod export;
mod gates;
mod http;
mod kalmar;
mod lake;
mod lake_delta;
mod lake_on_store;
mod national;
mod object_storage;
mod onboarding;
mod pgwire;
mod privacy;
mod publish;
mod published_delta;
mod report;

mod service;
mod shared_store;
mod slt;
mod structure;
mod terminal;
mod uppfoljning;
