// Appends points to a Plotly chart when its `batch` prop changes: the new points travel inside the
// tick's one element update instead of as a separate run_method message.
export default {
  template: "<span style='display: none'></span>",
  props: {
    target: Number,
    batch: Object,
    max_points: Number,
  },
  watch: {
    batch(value) {
      if (value) this.extend(value, 0);
    },
  },
  methods: {
    async extend(batch, attempt) {
      const { Plotly } = await import("nicegui-plotly");
      const chart = getHtmlElement(this.target);
      // The chart draws itself asynchronously on first mount: wait for it, briefly.
      if (!chart || !chart.data) {
        if (attempt < 50) setTimeout(() => this.extend(batch, attempt + 1), 20);
        return;
      }
      Plotly.extendTraces(chart, batch.update, batch.indices, this.max_points);
    },
  },
};
