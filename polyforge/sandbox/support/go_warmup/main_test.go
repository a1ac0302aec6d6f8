package main

import (
	"testing"
	"github.com/stretchr/testify/assert"
)

func TestWarm(t *testing.T) { assert.Equal(t, 1, 1) }
