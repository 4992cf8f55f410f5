//! A SoupBinTCP/OUCH client against `tickgate serve`: logs in as DEMO1, enters an
//! order, prints every message until it is accepted, cancels it, logs out.
//!
//! ```text
//! cargo run --release -- serve &
//! cargo run --release --example tcp_client [-- 127.0.0.1:15000]
//! ```

use tickgate::client::{Client, Event, LoginParams};
use tickgate::proto::ouch::{Outbound, Price, Side, Symbol};

fn wait_for(client: &mut Client, message_type: u8) -> anyhow_free::Result<Outbound> {
    loop {
        match client.recv()? {
            Event::Sequenced {
                sequence_number,
                message,
            } => {
                println!("{sequence_number:>6}: {message:?}");
                if message.message_type() == message_type {
                    return Ok(message);
                }
            }
            Event::EndOfSession => return Err("end of session".into()),
            _ => {}
        }
    }
}

/// Plain boxed errors (the crate has no `anyhow`).
mod anyhow_free {
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;
}

fn main() -> anyhow_free::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:15000".into());
    let login = LoginParams::new("DEMO1", "secret").from_sequence(0);
    let mut client = Client::connect(addr.as_str(), &login)?;
    println!(
        "logged in to session {:?}, next sequence number {}",
        String::from_utf8_lossy(client.session().trimmed()),
        client.next_sequence_number()
    );
    client.account_query()?;
    if let Outbound::AccountQueryResponse(q) = wait_for(&mut client, b'Q')? {
        client.set_next_user_ref_num(q.next_user_ref_num);
    }
    let urn = client.enter_order(Side::Buy, 100, Symbol::padded("AAPL"), Price(1_899_900))?;
    wait_for(&mut client, b'A')?;
    client.cancel(urn, 0)?;
    wait_for(&mut client, b'C')?;
    client.logout()?;
    Ok(())
}
