fn main() {
    let mem = std::env::args().nth(1).as_deref() != Some("file");
    let threads: usize = std::env::var("T").map(|v| v.parse().unwrap()).unwrap_or(1);
    let n: usize = std::env::var("N")
        .map(|v| v.parse().unwrap())
        .unwrap_or(200_000);
    let dir = std::env::temp_dir().join(format!("prof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vm = if mem {
        vm_system::VmSystem::open_in_memory().unwrap()
    } else {
        vm_system::VmSystem::open(dir.join("p.db")).unwrap()
    };
    let t = vm.create_template("bench", "quickjs").unwrap();
    let sessions: Vec<String> = (0..threads)
        .map(|_| {
            vm.create_session(&t.id, "b", "0", dir.to_str().unwrap())
                .unwrap()
                .id
        })
        .collect();
    let start = std::time::Instant::now();
    let cpu0 = cpu();
    let separate = std::env::var("SEP").is_ok();
    std::thread::scope(|sc| {
        for s in &sessions {
            let vm = &vm;
            sc.spawn(move || {
                if separate {
                    let own = vm_system::VmSystem::open_in_memory().unwrap();
                    let t = own.create_template("b", "quickjs").unwrap();
                    let s = own.create_session(&t.id, "b", "0", "/tmp").unwrap().id;
                    for _ in 0..n {
                        own.repl(&s, "1+1").unwrap();
                    }
                } else {
                    for _ in 0..n {
                        vm.repl(s, "1+1").unwrap();
                    }
                }
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    eprintln!(
        "{:.0} exec/s, cpu {:.2} cores",
        (n * threads) as f64 / wall,
        (cpu() - cpu0) / wall
    );
    let _ = std::fs::remove_dir_all(&dir);
}
fn cpu() -> f64 {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    r.ru_utime.tv_sec as f64
        + r.ru_utime.tv_usec as f64 / 1e6
        + r.ru_stime.tv_sec as f64
        + r.ru_stime.tv_usec as f64 / 1e6
}
