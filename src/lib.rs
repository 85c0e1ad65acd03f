//! failover-lab: simulate SMS verification failover policies against an injected world.

pub mod experiment;
pub mod fit;
pub mod metrics;
pub mod report;
pub mod scenario;
pub mod sim;
