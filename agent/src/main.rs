//! `agent`: answer visitors from a terminal (the console at /console/ does it in a browser).
//!
//!     agent list                     the site's conversations, newest first
//!     agent reply [ID|latest] TEXT   send one reply
//!     agent join [ID|latest]         print the conversation live; each line you type is sent
//!                                    (the agent is online for the site while joined)
//!     agent write EMAIL TEXT         write first to a contact (by email, with a link back);
//!                                    their answer waits in the queue
//!
//! Options (or environment): --relay (RELAY_URL, default http://127.0.0.1:8787),
//! --email (AGENT_EMAIL), --password (AGENT_PASSWORD), --site (SITE, default demo).
//! `scripts/run` prints the first admin's email and password.

use agent::{Agent, BoxError, Connection};
use protocol::inbox::Outbound;
use protocol::{Author, ClientMsgId, ConversationId, Email, Message, ServerFrame, SiteId};
use tokio::io::AsyncBufReadExt;

const USAGE: &str =
    "usage: agent [--relay URL] [--email EMAIL] [--password PASSWORD] [--site SITE] (list | reply [ID|latest] TEXT | join [ID|latest] | write EMAIL TEXT)";

struct Options {
    agent: Agent,
    site: SiteId,
    command: Vec<String>,
}

async fn options() -> Result<Options, BoxError> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let (mut relay, mut email, mut password, mut site) =
        (env("RELAY_URL", "http://127.0.0.1:8787"), env("AGENT_EMAIL", ""), env("AGENT_PASSWORD", ""), env("SITE", "demo"));
    let mut command = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--relay" => &mut relay,
            "--email" => &mut email,
            "--password" => &mut password,
            "--site" => &mut site,
            "-h" | "--help" => return Err(USAGE.into()),
            _ => {
                command.push(arg);
                continue;
            }
        };
        *slot = args.next().ok_or(USAGE)?;
    }
    if email.is_empty() || password.is_empty() {
        return Err("sign in with --email and --password, or AGENT_EMAIL and AGENT_PASSWORD (scripts/run prints the admin's)".into());
    }
    let agent = Agent::login(relay, &Email::parse(&email)?, &password).await?;
    Ok(Options { agent, site: SiteId::parse(&site)?, command })
}

async fn resolve(options: &Options, which: Option<&String>) -> Result<ConversationId, BoxError> {
    match which.map(String::as_str) {
        None | Some("latest") => {
            let list = options.agent.conversations(&options.site).await?;
            Ok(list.conversations.into_iter().next().ok_or("the site has no conversations yet")?.conversation_id)
        }
        Some(id) => Ok(ConversationId::parse(id)?),
    }
}

fn client_id() -> ClientMsgId {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    ClientMsgId::parse(&format!("cli-{}-{nanos}", std::process::id())).expect("valid client id")
}

fn print(message: &Message) {
    let who = match &message.author {
        Author::Visitor => "visitor".to_owned(),
        Author::Agent { name, .. } => name.to_string(),
    };
    println!("#{} {who}: {}", message.seq, message.body);
}

async fn follow(mut connection: Connection) -> Result<(), BoxError> {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            frame = connection.next() => match frame {
                Ok(ServerFrame::History { messages }) => messages.iter().for_each(print),
                Ok(ServerFrame::Message { message }) => print(&message),
                Ok(ServerFrame::Error { code, message, .. }) => eprintln!("refused: {code}: {message}"),
                Ok(_) => {}
                Err(agent::ConnectionError::Timeout) => {}
                Err(e) => return Err(e.into()),
            },
            line = lines.next_line() => match line? {
                Some(line) if !line.trim().is_empty() => {
                    let seq = connection.post(&client_id(), &line).await?;
                    println!("#{seq} (you): {}", line.trim());
                }
                Some(_) => {}
                None => return Ok(()),
            },
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let options = options().await?;
    match options.command.first().map(String::as_str) {
        Some("list") => {
            for c in options.agent.conversations(&options.site).await?.conversations {
                let who = c.contact.email.as_ref().map_or("visitor".to_owned(), |e| e.to_string());
                let owner = c.assignee.as_ref().map_or("waiting".to_owned(), |a| a.name.to_string());
                println!("{}  {}  {who}  {owner}  {} unread  {}", c.conversation_id, c.status.as_str(), c.unread, c.preview);
            }
        }
        Some("reply") => {
            let (which, text) = match options.command.len() {
                0..=1 => return Err(USAGE.into()),
                2 => (None, options.command[1..].join(" ")),
                _ => (Some(&options.command[1]), options.command[2..].join(" ")),
            };
            let id = resolve(&options, which).await?;
            let mut connection = options.agent.join(&id, u64::MAX).await?;
            let seq = connection.post(&client_id(), &text).await?;
            println!("sent to {id} as #{seq}");
            connection.close().await;
        }
        Some("join") => {
            let id = resolve(&options, options.command.get(1)).await?;
            let _online = options.agent.go_online(&options.site).await?;
            println!("online, joined {id}; type a line to reply, Ctrl-D to leave");
            follow(options.agent.join(&id, 0).await?).await?;
        }
        Some("write") => {
            let [_, email, words @ ..] = options.command.as_slice() else { return Err(USAGE.into()) };
            if words.is_empty() {
                return Err(USAGE.into());
            }
            let outbound = Outbound { email: Email::parse(email)?, body: words.join(" "), client_id: Some(client_id()) };
            let started = options.agent.write_first(&options.site, &outbound).await?;
            println!("wrote to {email} in {}", started.conversation_id);
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("agent: {e}");
        std::process::exit(1);
    }
}
