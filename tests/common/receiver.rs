//! A real HTTP server in the test process that receives delivered events: it records every
//! request (headers and body) and answers each with the next status queued, 200 once none is.
//! While held, it answers nothing: a destination that hangs, until the test lets it go.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::wait_for;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Request {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct Inbox {
    requests: Mutex<Vec<Request>>,
    answers: Mutex<VecDeque<u16>>,
    /// `true` while requests are held unanswered.
    held: tokio::sync::watch::Sender<bool>,
}

pub struct Receiver {
    pub url: String,
    pub addr: SocketAddr,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inbox = Arc::new(Inbox {
            requests: Mutex::default(),
            answers: Mutex::default(),
            held: tokio::sync::watch::channel(false).0,
        });
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/events"),
            addr,
            inbox,
            task,
        }
    }

    /// The next requests get these statuses, in order; 200 after them.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.inbox.answers.lock().unwrap().extend(statuses);
    }

    /// Requests from now on wait unanswered (and unrecorded) until [`Receiver::release`].
    pub fn hold(&self) {
        self.inbox.held.send_replace(true);
    }

    /// Answers the held requests, and the next ones at once.
    pub fn release(&self) {
        self.inbox.held.send_replace(false);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.inbox.requests.lock().unwrap().clone()
    }

    /// The requests, once there are at least `n`.
    pub async fn wait_for(&self, n: usize) -> Vec<Request> {
        wait_for(
            &format!("{n} requests at the receiver"),
            Duration::from_secs(30),
            || async {
                let requests = self.requests();
                (requests.len() >= n).then_some(requests)
            },
        )
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut held = inbox.held.subscribe();
    let _ = held.wait_for(|held| !held).await;
    inbox
        .requests
        .lock()
        .unwrap()
        .push(Request { headers, body });
    let status = inbox.answers.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}
