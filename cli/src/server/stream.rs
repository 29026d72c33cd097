//! `GET /executions/{id}/events/stream`: Server-Sent Events. The stored events after a seq
//! (`?after_seq=` or the `Last-Event-ID` header), then each event as the core records it,
//! then `event: end` with the final execution record. A blocking thread forwards the
//! core's follower to the connection; when the client goes away it stops and the core
//! forgets the follower.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use vm_system::{FollowItem, FollowPoll, Follower};

use super::error::{ApiError, ApiResult};
use super::extract::{uuid, Params};
use super::routes::blocking;
use super::{views, AppState};

/// A comment line this often keeps idle connections (and proxies) open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an idle forwarder checks that its client is still there.
const CLIENT_CHECK: Duration = Duration::from_secs(1);
/// Events buffered for a slow client before the forwarder waits for it.
const BUFFER: usize = 256;

/// The stream handler.
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = uuid("execution_id", &id)?;
    let after = match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                ApiError::validation("the Last-Event-ID header must be an event seq (an integer)")
            })?,
        None => params.seq("after_seq")?.unwrap_or(0),
    };
    let vm = state.vm.clone();
    let follower = blocking(move || Ok(vm.follow(&id, after)?)).await?;
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::task::spawn_blocking(move || forward(follower, tx));
    let mut response = Sse::new(Events(rx))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response();
    // Proxies must not hold events back.
    response
        .headers_mut()
        .insert("x-accel-buffering", "no".parse().expect("valid header"));
    Ok(response)
}

/// Moves the follower's items onto the connection until the end or until the client
/// has gone.
fn forward(mut follower: Follower, tx: mpsc::Sender<SseEvent>) {
    loop {
        let event = match follower.next_timeout(CLIENT_CHECK) {
            FollowPoll::Item(FollowItem::Event(e)) => SseEvent::default()
                .id(e.seq.to_string())
                .event(e.event_type.as_str())
                .data(serde_json::to_string(&e).unwrap_or_default()),
            FollowPoll::Item(FollowItem::End(exec)) => {
                let data = views::execution(&exec).to_string();
                let _ = tx.blocking_send(SseEvent::default().event("end").data(data));
                return;
            }
            FollowPoll::Pending if tx.is_closed() => return,
            FollowPoll::Pending => continue,
            FollowPoll::Closed => return,
        };
        if tx.blocking_send(event).is_err() {
            return;
        }
    }
}

/// The receiving end as a stream of SSE events.
struct Events(mpsc::Receiver<SseEvent>);

impl futures_core::Stream for Events {
    type Item = Result<SseEvent, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|item| item.map(Ok))
    }
}
