//! A TCP proxy in front of PostgreSQL: cutting it closes every connection through it and refuses
//! new ones until it is restored. The outage test and the soak (`benches/soak.rs`, which includes
//! this file) take the database away with it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone)]
pub struct DbProxy {
    pub addr: SocketAddr,
    /// Whether it lets connections through; shared with whoever reports the database's state.
    up: Arc<AtomicBool>,
    /// Bumped at each cut: a connection ends when the generation it started in has passed.
    generation: Arc<watch::Sender<u64>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl DbProxy {
    /// Forwards to `upstream` (`host:port`) while `up` holds.
    pub async fn start(upstream: String, up: Arc<AtomicBool>) -> DbProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (generation, _) = watch::channel(0u64);
        let generation = Arc::new(generation);
        let (up2, generation2) = (up.clone(), generation.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = generation2.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        DbProxy {
            addr,
            up,
            generation,
            task: Arc::new(task),
        }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}
