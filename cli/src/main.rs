//! `weixin-kit`: the command line (all of it is in the library, shared with `python -m weixin_kit`).

fn main() {
    let args = std::env::args().skip(1).collect();
    let code = weixin_kit_cli::run(args, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code);
}
