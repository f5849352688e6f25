//! The lexer and the parser: quoting, operators, io numbers, comments, syntax errors.

use crate::lex::{lex, LexError, Piece, RedirectOp, Token, Word};
use crate::parse::{parse, ParseError};

fn text(bytes: &str, quoted: bool) -> Piece {
    Piece::Text {
        bytes: bytes.as_bytes().to_vec(),
        quoted,
    }
}

#[test]
fn quotes_and_backslashes_are_resolved_into_pieces() {
    let tokens = lex(br#"a'b c'"d $X ${Y}\$" \e $? $"#).unwrap();
    let Token::Word(word) = &tokens[0] else {
        panic!("{tokens:?}")
    };
    assert!(word.quoted);
    assert_eq!(
        word.pieces,
        [
            text("a", false),
            text("b cd ", true),
            Piece::Var(b"X".to_vec()),
            text(" ", true),
            Piece::Var(b"Y".to_vec()),
            text("$", true),
        ]
    );
    let Token::Word(escaped) = &tokens[1] else {
        panic!()
    };
    assert_eq!(escaped.pieces, [text("e", true)]);
    let Token::Word(status) = &tokens[2] else {
        panic!()
    };
    assert_eq!(status.pieces, [Piece::Status]);
    let Token::Word(dollar) = &tokens[3] else {
        panic!()
    };
    assert_eq!(dollar.pieces, [text("$", false)]);
    assert_eq!(tokens.len(), 4);
}

#[test]
fn operators_and_io_numbers_are_tokens() {
    let tokens = lex(b"a|b||c&&d&e;f<g>h>>i 2>&1 12<&- 3>j k2>l").unwrap();
    let redirect = |fd, op| Token::Redirect { fd, op };
    let w = |s: &str| Token::Word(Word::plain(s.as_bytes()));
    assert_eq!(
        tokens,
        [
            w("a"),
            Token::Pipe,
            w("b"),
            Token::Or,
            w("c"),
            Token::And,
            w("d"),
            Token::Ampersand,
            w("e"),
            Token::Semicolon,
            w("f"),
            redirect(None, RedirectOp::In),
            w("g"),
            redirect(None, RedirectOp::Out),
            w("h"),
            redirect(None, RedirectOp::Append),
            w("i"),
            redirect(Some(2), RedirectOp::DupOut),
            w("1"),
            redirect(Some(12), RedirectOp::DupIn),
            w("-"),
            redirect(Some(3), RedirectOp::Out),
            w("j"),
            // Digits inside a word are not an io number.
            w("k2"),
            redirect(None, RedirectOp::Out),
            w("l"),
        ]
    );
}

#[test]
fn a_hash_at_the_start_of_a_word_begins_a_comment() {
    let tokens = lex(b"echo a#b # the rest ' is ignored").unwrap();
    assert_eq!(tokens.len(), 2);
    assert_eq!(parse(b"   # only a comment").unwrap().items, []);
}

#[test]
fn lexer_errors_name_the_problem() {
    assert_eq!(lex(b"echo 'abc"), Err(LexError::UnterminatedQuote(b'\'')));
    assert_eq!(lex(b"echo \"abc"), Err(LexError::UnterminatedQuote(b'"')));
    assert_eq!(lex(b"echo ${abc"), Err(LexError::BadSubstitution));
    assert_eq!(lex(b"echo ${1x}"), Err(LexError::BadSubstitution));
    assert_eq!(lex(b"echo \\"), Err(LexError::TrailingBackslash));
}

#[test]
fn lists_and_or_chains_pipelines_and_assignments_parse() {
    let list = parse(b"A=1 B=$A cmd x 2>/dev/null | b && c || d & e; f").unwrap();
    assert_eq!(list.items.len(), 3);
    let (first, background) = &list.items[0];
    assert!(*background);
    assert_eq!(first.first.commands.len(), 2);
    let command = &first.first.commands[0];
    assert_eq!(command.assignments.len(), 2);
    assert_eq!(command.assignments[0].0, b"A");
    assert_eq!(command.words.len(), 2);
    assert_eq!(command.redirections[0].fd, 2);
    assert_eq!(
        first.rest.iter().map(|(and, _)| *and).collect::<Vec<_>>(),
        [true, false]
    );
    assert!(!list.items[1].1 && !list.items[2].1);
    // After the command name, NAME=value is an ordinary argument.
    let list = parse(b"env A=1").unwrap();
    assert_eq!(list.items[0].0.first.commands[0].words.len(), 2);
}

#[test]
fn syntax_errors_name_the_token_or_the_end() {
    let error = |line: &str| parse(line.as_bytes()).unwrap_err().to_string();
    assert_eq!(error("| a"), "syntax error near `|`");
    assert_eq!(error("a |"), "syntax error: unexpected end of line");
    assert_eq!(error("a && && b"), "syntax error near `&&`");
    assert_eq!(error("a ;; b"), "syntax error near `;`");
    assert_eq!(error("&"), "syntax error near `&`");
    assert_eq!(error("a >"), "syntax error: `>` needs a target");
    assert_eq!(error("a 2>&"), "syntax error: `>&` needs a target");
    assert_eq!(error("a < | b"), "syntax error: `<` needs a target");
    assert_eq!(error("echo 'x"), "syntax error: unterminated '");
    assert!(matches!(parse(b"a ||"), Err(ParseError::UnexpectedEnd)));
}

#[test]
fn a_tilde_at_the_start_of_a_word_is_home_and_dollar_bang_is_a_variable() {
    let tokens = lex(b"~ ~/bin a~ '~' ~x $!").unwrap();
    let pieces: Vec<&Vec<Piece>> = tokens
        .iter()
        .map(|t| match t {
            Token::Word(w) => &w.pieces,
            _ => panic!("{t:?}"),
        })
        .collect();
    assert_eq!(*pieces[0], [Piece::Var(b"HOME".to_vec())]);
    assert_eq!(
        *pieces[1],
        [Piece::Var(b"HOME".to_vec()), text("/bin", false)]
    );
    assert_eq!(*pieces[2], [text("a~", false)]);
    assert_eq!(*pieces[3], [text("~", true)]);
    assert_eq!(*pieces[4], [text("~x", false)]);
    assert_eq!(*pieces[5], [Piece::Var(b"!".to_vec())]);
}
