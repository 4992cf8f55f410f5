//! The core loop over real SPSC rings and the broadcast ring, and its fairness.

mod engine_support;

use engine_support::*;
use tickgate::engine::core::{Core, RingCore, VecInput, VecOutput};
use tickgate::engine::{Command, MdEvent, OrderEvent, Side, VecSink};
use tickgate::ring::shm::Layout;
use tickgate::ring::{broadcast, spsc};

fn enter(session: u16, urn: u32, side: Side, qty: u32, price: u64) -> Command {
    Command::Enter(tickgate::engine::command::Enter {
        ts_ns: u64::from(urn) * 1000,
        session,
        user_ref_num: urn,
        ..limit(side, qty, price)
    })
}

fn layout() -> Layout {
    Layout {
        capacity: 64,
        slot_bytes: 64,
    }
}

#[test]
fn core_over_rings_gives_the_same_events_as_the_engine_directly() {
    let (mut in0, c0) = spsc::channel(layout()).unwrap();
    let (mut in1, c1) = spsc::channel(layout()).unwrap();
    let (p0, mut out0) = spsc::channel(layout()).unwrap();
    let (p1, mut out1) = spsc::channel(layout()).unwrap();
    let market = broadcast::new(Layout {
        capacity: 256,
        slot_bytes: 64,
    })
    .unwrap();
    let mut md_reader = market.reader();
    let mut core =
        RingCore::over_rings(engine_with(64), vec![c0, c1], vec![p0, p1], market, 8).unwrap();

    let cmds = [
        enter(0, 1, Side::Sell, 10, P100),
        enter(1, 1, Side::Buy, 4, P100),
        enter(0, 2, Side::Sell, 5, P100 + TICK),
        enter(1, 2, Side::Buy, 20, P100 + TICK),
    ];
    // Session 0's commands on input 0, session 1's on input 1, in order.
    let mut buf = [0u8; 64];
    for (i, c) in cmds.iter().enumerate() {
        c.encode_into(&mut buf).unwrap();
        let ring = if i % 2 == 0 { &mut in0 } else { &mut in1 };
        ring.try_push(&buf[..tickgate::engine::RECORD_BYTES])
            .unwrap();
    }
    let mut worked = 0;
    while worked < cmds.len() {
        worked += core.do_work();
    }
    assert_eq!(core.do_work(), 0);

    // Direct, in the core's order: input 0 drained (both its records fit the drain
    // limit), then input 1.
    let mut direct = engine_with(64);
    let mut sink = VecSink::default();
    for i in [0, 2, 1, 3] {
        direct.process(&cmds[i], &mut sink);
    }
    let read_all = |out: &mut spsc::Consumer| {
        let mut v = vec![];
        out.drain(usize::MAX, |r| v.push(OrderEvent::decode(r).unwrap()));
        v
    };
    let (got0, got1) = (read_all(&mut out0), read_all(&mut out1));
    let want = |s: u16| -> Vec<OrderEvent> {
        order_events(&sink.events)
            .into_iter()
            .filter(|e| e.session() == s)
            .collect()
    };
    assert_eq!(got0, want(0));
    assert_eq!(got1, want(1));
    let mut md = vec![];
    while let Ok(e) = md_reader.read(|r| MdEvent::decode(r).unwrap()) {
        md.push(e);
    }
    assert_eq!(md, md_events(&sink.events));
    assert_eq!(core.engine().state_hash(), direct.state_hash());
    assert_eq!(core.stats().commands, 4);
}

#[test]
fn core_drains_at_most_the_limit_per_input_and_rotates() {
    let mut inputs = vec![VecInput::default(), VecInput::default()];
    for urn in 1..=10 {
        inputs[0].push(&enter(0, urn, Side::Buy, 1, P100 - TICK));
        inputs[1].push(&enter(1, urn, Side::Sell, 1, P100 + TICK));
    }
    let outputs = vec![VecOutput::<OrderEvent>::default(), VecOutput::default()];
    let mut core = Core::new(
        engine_with(64),
        inputs,
        outputs,
        VecOutput::<MdEvent>::default(),
        3,
    )
    .unwrap();
    assert_eq!(core.do_work(), 6);
    assert_eq!(core.outputs()[0].events.len(), 3);
    assert_eq!(core.outputs()[1].events.len(), 3);
    let mut total = 6;
    while total < 20 {
        total += core.do_work();
    }
    assert_eq!(core.stats().commands, 20);
}

#[test]
fn core_counts_and_skips_records_that_do_not_decode() {
    let mut input = VecInput::default();
    input
        .records
        .push_back([0xFF; tickgate::engine::RECORD_BYTES]);
    input.push(&enter(0, 1, Side::Buy, 1, P100));
    let outputs = vec![VecOutput::<OrderEvent>::default()];
    let mut core = Core::new(
        engine_with(8),
        vec![input],
        outputs,
        VecOutput::<MdEvent>::default(),
        8,
    )
    .unwrap();
    assert_eq!(core.do_work(), 2);
    assert_eq!(core.stats().bad_records, 1);
    assert_eq!(core.stats().commands, 1);
    assert_eq!(core.outputs()[0].events.len(), 1);
}

#[test]
fn core_fits_every_record_in_one_64_byte_slot() {
    let line = Layout {
        capacity: 8,
        slot_bytes: 64,
    };
    let (_p, c) = spsc::channel(line).unwrap();
    let (p, _c) = spsc::channel(line).unwrap();
    let market = broadcast::new(line).unwrap();
    assert!(RingCore::over_rings(engine_with(8), vec![c], vec![p], market, 8).is_ok());
}

/// A session output much smaller than one command's events: the core never waits on it
/// (it would deadlock a gateway sharing its thread); the overflow queues in the spill
/// and reaches the output, in order, as the consumer drains.
#[test]
fn a_full_session_output_never_blocks_the_core_and_loses_nothing() {
    let tiny = Layout {
        capacity: 4,
        slot_bytes: 64,
    };
    let (mut input, commands) = spsc::channel(layout()).unwrap();
    let (p0, mut out0) = spsc::channel(tiny).unwrap();
    let (p1, mut out1) = spsc::channel(tiny).unwrap();
    let market = broadcast::new(Layout {
        capacity: 1024,
        slot_bytes: 64,
    })
    .unwrap();
    let mut core =
        RingCore::over_rings(engine_with(64), vec![commands], vec![p0, p1], market, 64).unwrap();
    // Session 0 rests 20 one-lot offers; session 1 sweeps them with one order.
    let mut cmds: Vec<Command> = (1..=20)
        .map(|urn| enter(0, urn, Side::Sell, 1, P100))
        .collect();
    cmds.push(enter(1, 1, Side::Buy, 20, P100));
    let mut buf = [0u8; 64];
    for c in &cmds {
        c.encode_into(&mut buf).unwrap();
        input
            .try_push(&buf[..tickgate::engine::RECORD_BYTES])
            .unwrap();
    }
    // One thread, as in shared mode: the core runs, then the consumer drains a little.
    let (mut got0, mut got1) = (vec![], vec![]);
    for _ in 0..1000 {
        core.do_work();
        out0.drain(2, |r| got0.push(OrderEvent::decode(r).unwrap()));
        out1.drain(2, |r| got1.push(OrderEvent::decode(r).unwrap()));
        if core.spilled() == 0 && !out0.has_record() && !out1.has_record() && got1.len() > 1 {
            break;
        }
    }
    let mut direct = engine_with(64);
    let mut sink = VecSink::default();
    for c in &cmds {
        direct.process(c, &mut sink);
    }
    let want = |s: u16| -> Vec<OrderEvent> {
        order_events(&sink.events)
            .into_iter()
            .filter(|e| e.session() == s)
            .collect()
    };
    assert_eq!(got0, want(0));
    assert_eq!(got1, want(1));
    assert!(
        core.stats().output_stalls > 0,
        "the tiny output never filled"
    );
    assert_eq!(core.stats().spill_grows, 0);
}

/// The core behind pre-trade risk: an operator kill (a `Control` for
/// `CONTROL_SESSION`) cancels the account's open orders through its output, blocks
/// it, and its answer goes to the control replies, not to a session output.
#[test]
fn an_operator_kill_through_the_core_cancels_blocks_and_answers_the_control_replies() {
    use std::sync::Arc;
    use tickgate::engine::command::{CONTROL_BYTES, Control};
    use tickgate::engine::core::ControlReplies;
    use tickgate::engine::types::{CONTROL_SESSION, ControlAction};
    use tickgate::risk::{AccountLimits, AccountRisk, RiskCore};

    let account = AccountRisk {
        firm: 0,
        limits: AccountLimits::default(),
    };
    let risk = RiskCore::new(engine_with(64), 64, 2, &[account, account]);
    // Input 0 (drained first): two resting orders; input 1: the operator's kill.
    let (mut orders, mut operator) = (VecInput::default(), VecInput::default());
    orders.push(&enter(0, 1, Side::Buy, 10, P100));
    orders.push(&enter(0, 2, Side::Buy, 10, P100 - TICK));
    operator.push(&Command::Control(Control {
        ts_ns: 5_000,
        session: CONTROL_SESSION,
        user_ref_idx: 0,
        user_ref_num: 0,
        action: ControlAction::Kill,
        account: 0,
        request: 7,
        len: 0,
        bytes: [0; CONTROL_BYTES],
    }));
    let replies = Arc::new(ControlReplies::default());
    let mut core = Core::new(
        risk,
        vec![orders, operator],
        vec![VecOutput::<OrderEvent>::default(), VecOutput::default()],
        VecOutput::<MdEvent>::default(),
        8,
    )
    .unwrap()
    .with_control_replies(replies.clone());
    assert_eq!(replies.result_of(7), None);
    while core.do_work() > 0 {}
    assert_eq!(
        replies.result_of(7),
        Some(1 << 32 | 2),
        "blocked, 2 cancelled"
    );
    let events = &core.outputs()[0].events;
    let canceled = events
        .iter()
        .filter(|e| matches!(e, OrderEvent::Canceled(_)))
        .count();
    assert_eq!(canceled, 2, "{events:?}");
    assert!(core.processor().is_blocked(0));
    assert_eq!(core.stats().control_replies, 1);
    assert_eq!(core.stats().unrouted_events, 0);
}

/// A core over in-memory inputs and outputs for `run_direct`: two sessions, session
/// `s` answered on output `s`.
fn vec_core() -> Core<VecInput, VecOutput<OrderEvent>, VecOutput<MdEvent>> {
    Core::new(
        engine_with(64),
        vec![VecInput::default(), VecInput::default()],
        vec![VecOutput::default(), VecOutput::default()],
        VecOutput::default(),
        8,
    )
    .unwrap()
}

fn record(cmd: &Command) -> [u8; tickgate::engine::RECORD_BYTES] {
    let mut buf = [0u8; tickgate::engine::RECORD_BYTES];
    cmd.encode_into(&mut buf).unwrap();
    buf
}

#[test]
fn a_direct_run_gives_the_ring_path_events_and_hands_over_those_it_takes() {
    let cmds = [
        enter(0, 1, Side::Sell, 10, P100),
        enter(1, 1, Side::Buy, 4, P100),
        enter(1, 2, Side::Buy, 20, P100 + TICK),
        enter(0, 2, Side::Sell, 30, P100),
    ];
    // Through the ring path, one command per round.
    let mut rings = vec_core();
    for c in &cmds {
        rings.inputs_mut()[0].push(c);
        assert_eq!(rings.do_work(), 1);
    }
    // Directly, session 1's events taken (session 0's still go to its output).
    let mut direct = vec_core();
    let mut taken = vec![];
    for c in &cmds {
        let ran = direct.run_direct(0, c, &record(c), |e| {
            let take = e.session() == 1;
            if take {
                taken.push(*e);
            }
            take
        });
        assert!(ran);
    }
    assert_eq!(direct.outputs()[0].events, rings.outputs()[0].events);
    assert!(direct.outputs()[1].events.is_empty());
    assert_eq!(taken, rings.outputs()[1].events);
    assert!(taken.len() >= 4, "the crosses executed session 1's orders");
    assert_eq!(direct.market().events, rings.market().events);
    assert_eq!(direct.engine().state_hash(), rings.engine().state_hash());
    let stats = direct.stats();
    assert_eq!((stats.commands, stats.direct), (4, 4));
}

#[test]
fn a_direct_run_declines_while_its_input_holds_a_record() {
    let mut core = vec_core();
    let first = enter(0, 1, Side::Sell, 10, P100);
    core.inputs_mut()[0].push(&first);
    let second = enter(0, 2, Side::Sell, 10, P100);
    let rec = record(&second);
    let overtook = core.run_direct(0, &second, &rec, |_| true);
    assert!(!overtook, "must not overtake the ring");
    assert_eq!(core.stats().commands, 0);
    // Another input's record does not hold it back; a missing input declines.
    assert!(core.run_direct(1, &second, &rec, |_| false));
    assert!(!core.run_direct(2, &second, &rec, |_| false));
    assert_eq!(core.do_work(), 1);
    assert_eq!(core.stats().direct, 1);
    assert_eq!(core.stats().commands, 2);
}
