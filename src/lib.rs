//! failover-lab: simulate SMS verification failover policies against an injected world.

pub mod metrics;
pub mod scenario;
pub mod sim;
