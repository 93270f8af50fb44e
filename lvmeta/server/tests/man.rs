//! The man page lvmeta-server(8) and `lvmeta-server --help`, pinned like every other page
//! (UPDATE_GOLDEN=1 refreshes them).

use halvm_testkit::assert_golden;

#[test]
fn help_is_current() {
    let err = lvmeta_server::cli()
        .term_width(100)
        .try_get_matches_from(["lvmeta-server", "--help"])
        .expect_err("--help stops parsing");
    assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
    assert_golden(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/help.txt"),
        &err.render().to_string(),
    );
}

#[test]
fn man_page_is_current() {
    let page = halvm_man::render(
        &lvmeta_server::cli(),
        "8",
        &[
            halvm_man::Section {
                title: "Clients",
                body: "lvmc(8) forwards its command line to the server; lvmeta(8) does too (before doing anything else), so both run a command in a worker when a server answers on the socket, and run it themselves otherwise (no server, LVMETA_SERVER=0, or refused). A command run through the server behaves as if run by lvmeta itself: same arguments, environment, umask, current directory, standard input, output and error, same output and exit code. Ctrl-C (SIGINT), SIGTERM and SIGHUP received by the client are raised in the worker, which then ends as a local lvmeta would, and so does the client; a client that dies makes its worker get SIGHUP, as a local lvmeta that loses its terminal. If a worker dies after it took a command (killed, crashed), the client says so and exits 5: it never runs the command again by itself, since the command may have been carried out in part.",
            },
            halvm_man::Section {
                title: "Security",
                body: "The socket is mode 0600 in a directory of mode 0700, both root's, and the server serves root only: each client's peer credentials are checked (uid 0). A client must also share the server's mount namespace and root directory, so that the paths it names are the files the server sees; any other client is refused and runs the command itself, with its own rights. A request is bounded (1 MiB in all: arguments, environment) and checked before use; a malformed one ends that connection only.",
            },
            halvm_man::Section {
                title: "Workers",
                body: "The parent is single-threaded and only forks, reaps and counts: a child that takes a connection tells it at once, and it forks a replacement while fewer than --max children exist. Each worker serves one command and exits, starting from the idle server's memory: nothing of the disks is cached between commands, so a command always reads the metadata from the disks as lvmeta does. An idle child that has seen no client come to the server for 100 ms copies the pages it shares with the server (MADV_POPULATE_WRITE of its resident private pages, 64 MiB at most, in 256 KiB steps between which it looks for a client), so that its command takes no copy-on-write fault at each first write; when commands come back to back nothing is copied. A worker that dies by a signal is logged with its pid. Upgrading lvmeta means restarting the service: workers run the code the server was started with.",
            },
            halvm_man::Section {
                title: "Signals",
                body: "SIGTERM and SIGINT stop the server: the socket is removed (new clients run their commands themselves), idle workers exit, the commands running are waited for (never killed mid-commit), then the server exits 0. SIGHUP is ignored. The unit lvmeta-server.service never SIGKILLs the server or its workers.",
            },
            halvm_man::Section {
                title: "Exit status",
                body: "0 when stopped by SIGTERM or SIGINT; 1 when it could not serve (socket in use by a running server, cannot bind); 2 for a bad command line.",
            },
            halvm_man::Section {
                title: "Environment",
                body: "LVMETA_SERVER (for the clients): the socket path, or 0 for never forwarding.",
            },
            halvm_man::Section {
                title: "Files",
                body: "/run/lvmeta/server.sock",
            },
            halvm_man::Section {
                title: "See also",
                body: "lvmc(8), lvmeta(8), systemd.service(5)",
            },
        ],
    );
    assert_golden(halvm_man::page_path("lvmeta-server", "8"), &page);
}
