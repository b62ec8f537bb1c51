package table

import (
	"sync"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// Arrow v17's zstd codec builds a new encoder, window buffers and all, for
// every page it compresses. With zeroner's many small per-shard files that
// allocation was half the job's CPU (mostly garbage collection), so the
// package replaces it in Arrow's codec registry, once, before any writer
// exists, with a codec that keeps one encoder per level: EncodeAll is safe
// for concurrent use. The output is still standard zstd.
func init() {
	base, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		panic(err) // Arrow always registers zstd
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &reusedZstd{Codec: base})
}

type reusedZstd struct {
	compress.Codec          // decoding and streaming, as Arrow does them
	encoders       sync.Map // level -> *zstd.Encoder
}

func (z *reusedZstd) EncodeLevel(dst, src []byte, level int) []byte {
	return z.encoder(level).EncodeAll(src, dst[:0])
}

func (z *reusedZstd) Encode(dst, src []byte) []byte {
	return z.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

func (z *reusedZstd) encoder(level int) *zstd.Encoder {
	if e, ok := z.encoders.Load(level); ok {
		return e.(*zstd.Encoder)
	}
	speed := zstd.SpeedDefault
	if level != compress.DefaultCompressionLevel {
		speed = zstd.EncoderLevelFromZstd(level)
	}
	e, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(speed))
	if err != nil {
		panic(err) // only invalid options fail, and these are fixed
	}
	actual, _ := z.encoders.LoadOrStore(level, e)
	return actual.(*zstd.Encoder)
}
