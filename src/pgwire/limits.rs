//! The row limit and the timeout inside the query plan itself.
//!
//! Over the PostgreSQL protocol the result is streamed to the client by pgwire after the
//! query handler returned, so the limits cannot wrap a handler call as they do for HTTP.
//! Instead a last physical optimizer rule puts [`LimitExec`] on top of every plan: it
//! counts the rows of all output partitions together and fails the stream once they pass
//! the limit, and it fails the stream when the timeout has passed since execution began.
//! Failing the stream makes pgwire drop it, which drops (and so cancels) the whole plan,
//! spawned tasks included; every operator yields (`YieldEverywhere`), so the
//! timer is seen even while a join runs.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::{Future, Stream, StreamExt};

use crate::published::{LimitExceeded, QueryLimits};

/// The physical optimizer rule that puts [`LimitExec`] on top of a plan. It must be the
/// last rule, so that nothing moves a node above it.
#[derive(Debug)]
pub(crate) struct EnforceLimits {
    pub(crate) max_rows: usize,
    pub(crate) timeout: Duration,
}

impl EnforceLimits {
    pub(crate) fn new(limits: &QueryLimits) -> Self {
        EnforceLimits {
            max_rows: limits.max_rows,
            timeout: limits.timeout,
        }
    }
}

impl PhysicalOptimizerRule for EnforceLimits {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if plan.downcast_ref::<LimitExec>().is_some() {
            return Ok(plan);
        }
        Ok(Arc::new(LimitExec::new(plan, self.max_rows, self.timeout)))
    }

    fn name(&self) -> &str {
        "malgrupp_enforce_limits"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Passes its input through, failing once the rows of all partitions together pass
/// `max_rows` or once `timeout` has passed since the first partition started.
#[derive(Debug)]
pub(crate) struct LimitExec {
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    max_rows: usize,
    timeout: Duration,
    rows: Arc<AtomicUsize>,
    started: Arc<OnceLock<Instant>>,
}

impl LimitExec {
    fn new(input: Arc<dyn ExecutionPlan>, max_rows: usize, timeout: Duration) -> Self {
        LimitExec {
            properties: input.properties().clone(),
            input,
            max_rows,
            timeout,
            rows: Arc::new(AtomicUsize::new(0)),
            started: Arc::new(OnceLock::new()),
        }
    }
}

impl DisplayAs for LimitExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MalgruppLimitExec: max_rows={}, timeout={}ms",
            self.max_rows,
            self.timeout.as_millis()
        )
    }
}

impl ExecutionPlan for LimitExec {
    fn name(&self) -> &str {
        "MalgruppLimitExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(format!(
                "MalgruppLimitExec has one child, got {}",
                children.len()
            )));
        }
        Ok(Arc::new(LimitExec::new(
            children.swap_remove(0),
            self.max_rows,
            self.timeout,
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let started = *self.started.get_or_init(Instant::now);
        let deadline = tokio::time::Instant::from_std(started + self.timeout);
        let input = self.input.execute(partition, context)?;
        Ok(Box::pin(LimitStream {
            schema: input.schema(),
            input: Some(input),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            rows: self.rows.clone(),
            max_rows: self.max_rows,
            timeout: self.timeout,
        }))
    }
}

struct LimitStream {
    schema: SchemaRef,
    /// `None` once finished or failed: the input is dropped at once, which cancels it.
    input: Option<SendableRecordBatchStream>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    rows: Arc<AtomicUsize>,
    max_rows: usize,
    timeout: Duration,
}

impl LimitStream {
    fn fail(&mut self, why: LimitExceeded) -> Poll<Option<Result<RecordBatch>>> {
        self.input = None;
        Poll::Ready(Some(Err(DataFusionError::External(Box::new(why)))))
    }
}

impl Stream for LimitStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.input.is_none() {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            let timeout = this.timeout;
            return this.fail(LimitExceeded::Time(timeout));
        }
        let Some(input) = this.input.as_mut() else {
            return Poll::Ready(None);
        };
        match input.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(batch))) => {
                let n = batch.num_rows();
                let total = this.rows.fetch_add(n, Ordering::Relaxed).saturating_add(n);
                if total > this.max_rows {
                    let max = this.max_rows;
                    return this.fail(LimitExceeded::Rows(max));
                }
                Poll::Ready(Some(Ok(batch)))
            }
            Poll::Ready(None) => {
                this.input = None;
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

impl RecordBatchStream for LimitStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
