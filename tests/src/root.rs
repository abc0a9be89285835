//! What the tests that need root use: a check that fails (never skips) without it, a small
//! tmpfs that is unmounted on drop even when the test fails, and commands run as another user.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

/// The uid and gid of `nobody`, the "other user" of the permission tests.
pub const NOBODY: u32 = 65534;

/// Panics with a clear message unless the tests run as root (CI does). Tests that need root
/// must fail without it: a test that passes by skipping tests nothing.
pub fn require_root(why: &str) {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .expect("running `id -u`");
    let uid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        uid, "0",
        "this test must run as root ({why}); it runs as uid {uid}. CI runs the tests as root"
    );
}

/// A tmpfs of a fixed size mounted on a fresh directory; unmounted (lazily if still busy) and
/// removed on drop. Declare it before anything that keeps files open in it, so it drops last.
#[derive(Debug)]
pub struct Tmpfs {
    dir: Option<TempDir>,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` bytes. Needs root (see [`require_root`]).
    pub fn mount(bytes: u64) -> Tmpfs {
        require_root("it mounts a tmpfs");
        let dir = tempfile::Builder::new()
            .prefix("fedci-tmpfs-")
            .tempdir()
            .expect("creating a mount point");
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "mount -t tmpfs on {} failed: {}",
            dir.path().display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir: Some(dir) }
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("tmpfs dropped").path()
    }

    /// Writes zeros to `name` until the file system is full; returns the file's path.
    pub fn fill(&self, name: &str) -> PathBuf {
        use std::io::Write;
        let path = self.path().join(name);
        let mut f = std::fs::File::create(&path).expect("creating the filler file");
        let block = vec![0u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
        // Whatever partial page is left, take it too.
        while let Ok(n) = f.write(&[0u8; 512]) {
            if n == 0 {
                break;
            }
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let ok = Command::new("umount")
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Something still holds a file open in it: detach now, freed when it closes.
            let _ = Command::new("umount").arg("-l").arg(dir.path()).status();
        }
        drop(dir);
    }
}

/// `setpriv` running `program args…` as uid/gid `uid` with no supplementary groups.
pub fn as_user(uid: u32, program: &str, args: &[&str]) -> Output {
    require_root("it runs a client as another user");
    Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running setpriv {program}: {e}"))
}
