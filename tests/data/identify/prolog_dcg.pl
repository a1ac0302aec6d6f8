:- use_module(library(dcg/basics)).

greeting --> [hello], name.
name --> [world].
name --> [prolog].

main :-
    phrase(greeting, [hello, prolog]),
    format("parsed~n").
