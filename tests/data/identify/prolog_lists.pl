:- module(lists_extra, [sum_list/2, last_elem/2]).

sum_list([], 0).
sum_list([H|T], S) :-
    sum_list(T, S0),
    S is S0 + H.

last_elem([X], X) :- !.
last_elem([_|T], X) :-
    last_elem(T, X).
