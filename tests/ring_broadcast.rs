//! Broadcast ring: one writer, many readers, laps detected and never torn.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tickgate::ring::broadcast::{self, ReadError, Reader, TooLong, Writer};
use tickgate::ring::shm::Layout;

const LAYOUT: Layout = Layout {
    capacity: 64,
    slot_bytes: 64,
};

/// A record that carries its position and a checksum over its bytes.
fn record(pos: u64, len: usize) -> Vec<u8> {
    let mut r = vec![0u8; len];
    r[..8].copy_from_slice(&pos.to_le_bytes());
    for (k, b) in r[8..len - 4].iter_mut().enumerate() {
        *b = (pos as u8) ^ (k as u8).wrapping_mul(31);
    }
    let sum = checksum(&r[..len - 4]);
    r[len - 4..].copy_from_slice(&sum.to_le_bytes());
    r
}

fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ *b as u32).wrapping_mul(0x0100_0193)
    })
}

fn verify(r: &[u8]) -> u64 {
    let n = r.len();
    assert!(n >= 12, "record of {n} bytes");
    let sum = u32::from_le_bytes(r[n - 4..].try_into().unwrap());
    assert_eq!(sum, checksum(&r[..n - 4]), "torn record");
    u64::from_le_bytes(r[..8].try_into().unwrap())
}

#[test]
fn a_reader_sees_every_record_written_after_it_joined() {
    let mut w = broadcast::new(LAYOUT).unwrap();
    w.publish(&record(0, 20)).unwrap();
    let mut r = w.reader();
    assert_eq!(r.read(|_| ()), Err(ReadError::Empty));
    for pos in 1..=40 {
        w.publish(&record(pos, 12 + (pos as usize % 36))).unwrap();
    }
    for pos in 1..=40 {
        assert_eq!(r.read(verify), Ok(pos));
    }
    assert_eq!(r.read(verify), Err(ReadError::Empty));
}

#[test]
fn rewind_reads_the_oldest_records_still_in_the_ring() {
    let mut w = broadcast::new(LAYOUT).unwrap();
    for pos in 0..100 {
        w.publish(&record(pos, 16)).unwrap();
    }
    let mut r = w.reader();
    r.rewind_to_oldest();
    assert_eq!(r.read(verify), Ok(36));
    assert_eq!(r.lag(), 63);
}

#[test]
fn a_record_longer_than_a_slot_is_refused() {
    let mut w = broadcast::new(LAYOUT).unwrap();
    assert_eq!(w.publish(&[0; 49]), Err(TooLong { len: 49, max: 48 }));
}

#[test]
fn a_lapped_reader_is_told_how_much_it_lost_and_jumps_to_the_newest() {
    let mut w = broadcast::new(LAYOUT).unwrap();
    let mut r = w.reader();
    for pos in 0..200 {
        w.publish(&record(pos, 24)).unwrap();
    }
    assert_eq!(r.read(verify), Err(ReadError::Lapped { lost: 200 }));
    assert_eq!(r.lost(), 200);
    w.publish(&record(200, 24)).unwrap();
    assert_eq!(r.read(verify), Ok(200));
}

/// Per-reader progress the writer watches, so the test never depends on scheduling.
#[derive(Default)]
struct Progress {
    read: AtomicU64,
    laps: AtomicU64,
}

#[test]
fn readers_in_threads_lapped_repeatedly_never_see_a_torn_record() {
    const N: u64 = 3_000_000;
    let mut w = broadcast::new(Layout {
        capacity: 128,
        slot_bytes: 64,
    })
    .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let progress: Arc<[Progress; 3]> = Arc::default();
    let readers: Vec<_> = (0..3)
        .map(|k| spawn_reader(w.reader(), done.clone(), progress.clone(), k))
        .collect();
    // Write at least N records, and on until every reader has read some and been
    // lapped at least once (a loaded machine may starve a reader for a while).
    let deadline = Instant::now() + Duration::from_secs(120);
    let satisfied = || {
        progress
            .iter()
            .all(|p| p.read.load(Ordering::Relaxed) >= 100 && p.laps.load(Ordering::Relaxed) > 0)
    };
    let mut pos = 0;
    while pos < N || (!satisfied() && Instant::now() < deadline) {
        w.publish(&record(pos, 12 + (pos as usize % 37))).unwrap();
        pos += 1;
        if pos >= N && pos % 4096 == 0 {
            std::thread::yield_now();
        }
    }
    done.store(true, Ordering::Release);
    for h in readers {
        let (read, laps, lost) = h.join().unwrap();
        assert!(read >= 100, "a reader read only {read} records");
        assert!(laps > 0, "a slow reader was never lapped");
        assert!(read + lost <= pos);
    }
}

/// Reads until the writer is done; reader `k` dawdles every so often to get lapped.
/// Returns (records read, laps, records lost).
fn spawn_reader(
    mut r: Reader,
    done: Arc<AtomicBool>,
    progress: Arc<[Progress; 3]>,
    k: usize,
) -> std::thread::JoinHandle<(u64, u64, u64)> {
    std::thread::spawn(move || {
        let (mut read, mut laps) = (0u64, 0u64);
        let mut last: Option<u64> = None;
        let mine = &progress[k];
        loop {
            match r.read(verify) {
                Ok(pos) => {
                    assert!(last.is_none_or(|l| pos > l), "went backwards");
                    assert_eq!(pos, r.position() - 1);
                    last = Some(pos);
                    read += 1;
                    mine.read.store(read, Ordering::Relaxed);
                    if read % (1000 * (k as u64 + 1)) == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
                Err(ReadError::Lapped { lost }) => {
                    assert!(lost > 0);
                    laps += 1;
                    mine.laps.store(laps, Ordering::Relaxed);
                }
                Err(ReadError::Empty) if done.load(Ordering::Acquire) => break,
                Err(ReadError::Empty) => std::thread::yield_now(),
            }
        }
        (read, laps, r.lost())
    })
}

#[test]
fn a_reader_in_another_mapping_reads_the_shm_ring() {
    let path = std::path::PathBuf::from(format!(
        "/dev/shm/tickgate-test-{}-bcast",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let mut w = Writer::create(&path, LAYOUT).unwrap();
    let mut r = Reader::attach(&path, Some(LAYOUT)).unwrap();
    w.publish(&record(0, 30)).unwrap();
    let got = r.read(verify);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(got, Ok(0));
}

#[test]
fn a_record_published_as_words_reads_back_as_its_bytes() {
    let mut w = broadcast::new(LAYOUT).unwrap();
    let mut r = w.reader();
    for len in [12, 13, 20, 47, 48] {
        let bytes = record(len as u64, len);
        let mut words = [0u64; 6];
        for (k, b) in bytes.iter().enumerate() {
            words[k / 8] |= u64::from(*b) << (8 * (k % 8));
        }
        let words = words.map(u64::from_le);
        w.publish_words(len, &words).unwrap();
        assert_eq!(r.read(|got| got.to_vec()), Ok(bytes));
    }
    assert_eq!(
        w.publish_words(49, &[0; 7]),
        Err(TooLong { len: 49, max: 48 })
    );
    assert_eq!(
        w.publish_words(48, &[0; 5]),
        Err(TooLong { len: 48, max: 48 })
    );
}

/// Demoting each record's first line (`cldemote`, a NOP where the CPU lacks it)
/// changes nothing a reader sees, through either way of publishing.
#[test]
fn a_demoting_writer_publishes_the_same_records() {
    let mut w = broadcast::new(LAYOUT).unwrap();
    w.set_demote(true);
    let mut r = w.reader();
    for pos in 0..1000u64 {
        let len = 12 + (pos as usize % 37);
        let bytes = record(pos, len);
        if pos % 2 == 0 {
            w.publish(&bytes).unwrap();
        } else {
            let mut words = [0u64; 6];
            for (k, b) in bytes.iter().enumerate() {
                words[k / 8] |= u64::from(*b) << (8 * (k % 8));
            }
            w.publish_words(len, &words.map(u64::from_le)).unwrap();
        }
        assert_eq!(r.read(|got| got.to_vec()), Ok(bytes));
    }
}
