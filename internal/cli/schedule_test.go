package cli

import (
	"testing"

	"go.temporal.io/sdk/client"
)

// The server keeps a cron spec as calendar ranges; describe writes it back.
func TestCalendarCron(t *testing.T) {
	r := func(start, end, step int) client.ScheduleRange {
		return client.ScheduleRange{Start: start, End: end, Step: step}
	}
	tests := []struct {
		c    client.ScheduleCalendarSpec
		want string
	}{
		{client.ScheduleCalendarSpec{Minute: []client.ScheduleRange{r(0, 0, 1)}, Hour: []client.ScheduleRange{r(2, 2, 1)},
			DayOfMonth: []client.ScheduleRange{r(1, 31, 1)}, Month: []client.ScheduleRange{r(1, 12, 1)},
			DayOfWeek: []client.ScheduleRange{r(0, 6, 1)}}, "0 2 * * *"},
		{client.ScheduleCalendarSpec{Minute: []client.ScheduleRange{r(0, 59, 15)}, Hour: []client.ScheduleRange{r(9, 17, 1)},
			DayOfWeek: []client.ScheduleRange{r(1, 5, 1)}, Comment: "work hours"}, "0-59/15 9-17 * * 1-5  # work hours"},
	}
	for _, tt := range tests {
		if got := calendarCron(tt.c); got != tt.want {
			t.Errorf("calendarCron = %q, want %q", got, tt.want)
		}
	}
}
