//! The relay's integration tests: real HTTP on 127.0.0.1 against a recording upstream.

mod budgets;
mod cloudwatch;
mod corpus;
mod cors;
mod deep;
mod exposure;
mod forward;
mod fuzz;
mod limits;
mod local;
mod logs;
mod rollbar;
mod shutdown;
mod skew;
mod support;
mod xray;
