package Inventory;
use strict;
use warnings;

sub new {
    my ($class, %args) = @_;
    my $self = { items => {}, %args };
    return bless $self, $class;
}

sub add {
    my ($self, $name, $qty) = @_;
    $self->{items}{$name} += $qty;
    return $self->{items}{$name};
}

1;
