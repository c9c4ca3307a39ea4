package main
import (
 _ "github.com/mattn/go-sqlite3"
 _ "github.com/nats-io/nats-server/v2/server"
 _ "github.com/nats-io/nats.go/jetstream"
 _ "github.com/nats-io/nats.go/micro"
 _ "github.com/xuri/excelize/v2"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/gocarina/gocsv"
 _ "github.com/stretchr/testify/require"
 _ "golang.org/x/text/encoding/charmap"
 _ "golang.org/x/time/rate"
 _ "golang.org/x/term"
)
func main(){}
