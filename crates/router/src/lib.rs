//! failover-router
pub mod adapter;
pub mod duration;
pub mod policy;
pub mod route;
