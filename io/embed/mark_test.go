package embed

import "testing"

func TestMark(t *testing.T) {
	tests := []struct {
		name  string
		m     Mention
		want  string
		valid bool
	}{
		{"middle", Mention{"in Paris today", 3, 8}, "in <m>Paris</m> today", true},
		{"whole text", Mention{"Paris", 0, 5}, "<m>Paris</m>", true},
		{"code points, not bytes", Mention{"à Zürich, été", 2, 8}, "à <m>Zürich</m>, été", true},
		{"after an emoji", Mention{"🎉 Ada won", 2, 5}, "🎉 <m>Ada</m> won", true},
		{"empty span", Mention{"ab", 1, 1}, "a<m></m>b", true},
		{"empty span at end", Mention{"ab", 2, 2}, "ab<m></m>", true},
		{"end past text", Mention{"Paris", 0, 6}, "Paris", false},
		{"start past text", Mention{"Paris", 7, 9}, "Paris", false},
		{"negative start", Mention{"Paris", -1, 2}, "Paris", false},
		{"reversed", Mention{"Paris", 3, 1}, "Paris", false},
		{"empty text", Mention{"", 0, 0}, "<m></m>", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Mark(tt.m); got != tt.want {
				t.Errorf("Mark(%+v) = %q, want %q", tt.m, got, tt.want)
			}
			if got := Valid(tt.m); got != tt.valid {
				t.Errorf("Valid(%+v) = %v, want %v", tt.m, got, tt.valid)
			}
		})
	}
}
