//! OUCH System Events: every account's stream opens with Start of Day (`S`) and a
//! graceful stop ends it with End of Day (`E`) before End of Session; both are
//! journaled, so a restart replays them in place and sends no second Start of Day.

mod serve_support;

use std::time::Duration;

use serve_support::*;

use tickgate::proto::ouch::{Price, Side, Symbol, SystemEventCode};
use tickgate::server::{Running, StartOptions};

fn start(dir: &std::path::Path) -> Running {
    let mut c = config(0);
    c.gateway.system_events = true;
    server_at(c, dir, StartOptions::default()).expect("server starts")
}

#[test]
fn start_and_end_of_day_frame_each_stream_and_replay_once() {
    let dir = journal_base();
    let _guard = DirGuard(dir.clone());
    let s = start(&dir);
    let mut a = login_from(&s, "DEMO1", 1);
    let mut b = login_from(&s, "DEMO2", 1);
    let (seq, m) = next(&mut a);
    assert_eq!(
        (seq, system_event(&m)),
        (1, Some(SystemEventCode::StartOfDay))
    );
    let (seq, m) = next(&mut b);
    assert_eq!(
        (seq, system_event(&m)),
        (1, Some(SystemEventCode::StartOfDay))
    );
    a.enter_order(Side::Buy, 100, Symbol::padded("AAPL"), Price(1_900_000))
        .unwrap();
    assert_eq!(expect(&mut a, b'A').message_type(), b'A');

    // End of Day is each stream's last message, End of Session after it.
    let ends = stop_reading(s, &mut [&mut a, &mut b]);
    assert_only_end_of_day(&ends, &[3, 2]);
    drop((a, b));

    // A restart the same day replays the stream as it was: no second Start of Day.
    let s = start(&dir);
    let mut a = login_from(&s, "DEMO1", 1);
    let replayed: Vec<_> = (0..3).map(|_| next(&mut a)).collect();
    assert_eq!(replayed[0].0, 1);
    assert_eq!(
        system_event(&replayed[0].1),
        Some(SystemEventCode::StartOfDay)
    );
    assert_eq!(replayed[1].1.message_type(), b'A');
    assert_eq!(
        system_event(&replayed[2].1),
        Some(SystemEventCode::EndOfDay)
    );
    a.account_query().unwrap();
    let (seq, m) = next(&mut a);
    assert_eq!((seq, m.message_type()), (4, b'Q'), "{m:?}");
    a.set_heartbeat_interval(Duration::from_millis(200));
    let ends = stop_reading(s, &mut [&mut a]);
    assert_eq!(ends[0].len(), 1);
    assert_eq!(ends[0][0].0, 5);
    assert_eq!(system_event(&ends[0][0].1), Some(SystemEventCode::EndOfDay));
}
